"""gunicorn settings for Clientele's web tier: ``gunicorn -c deploy/gunicorn.conf.py config.wsgi``.

The systemd unit (``systemd/clientele-web.service``), the container (``compose.yaml``) and the
production smoke test (``scripts/smoke_prod.py``) all start the web tier with this file. Every
value can be overridden from the environment, so one file serves every machine size.

The web tier is stateless: sessions, rate limits and throttles live in Redis (the cache), files
in the configured storages. Run as many of these processes on as many machines as the load
needs, behind one reverse proxy or load balancer.
"""

import glob
import multiprocessing
import os

from prometheus_client import multiprocess

# The reverse proxy (nginx, a load balancer) connects here; never expose this port directly.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: Django views here are short and database-bound. 2 x cores + 1 is gunicorn's own
# rule of thumb; each worker holds one persistent database connection (DB_CONN_MAX_AGE).
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# Import the application once in the master: workers fork with the code loaded (faster restarts
# and copy-on-write memory). Database connections are opened lazily per worker, after the fork.
preload_app = True
# A request that takes longer than this is killed and logged; exports and imports that could take
# longer run on the bulk queue instead of in a request.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then so that a slow leak in any library cannot grow for months; the
# jitter keeps them from restarting all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))
# Request line and headers: gunicorn's defaults (4094 bytes per line; the API schema says so).
limit_request_line = 4094
limit_request_fields = 100
# Trust X-Forwarded-* only from the proxy's address (comma-separated). Django itself decides the
# scheme from SECURE_PROXY_SSL_HEADER and the client address from TRUSTED_PROXY_COUNT /
# TRUSTED_CLIENT_IP_HEADER; this only keeps gunicorn's own wsgi.url_scheme consistent with them.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Logs go to stdout/stderr: journald (systemd) or the container runtime collects them.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# Access lines without the query string or the referrer (a staff search carries e-mail addresses
# and phone numbers there) and with the request id the application gave the request.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms %({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Worker heartbeat files in memory, not on a disk that may stall (containers: /dev/shm).
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (
    "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 (a tmpfs, as gunicorn advises)  # nosec B108
)
proc_name = "clientele-web"
# gunicorn's control socket (gunicornc) is off unless named: reloads here are SIGHUP
# (systemctl reload), and the service user's home is read-only under the systemd unit.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not _control_socket
if _control_socket:
    control_socket = _control_socket


# prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, apps.core.metrics): start from
# an empty directory, and take a dead worker's live gauges out of the sums.
def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
