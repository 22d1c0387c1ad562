"""``make smoke``: the production recipe in deploy/, run for real on this machine.

It runs the operator's commands (RUNBOOK "First install") with ``config.settings.prod`` against a
fresh PostgreSQL database of its own and Redis, then starts the stack with the very commands of the
systemd units in deploy/systemd/ (gunicorn with deploy/gunicorn.conf.py and 2 workers, one Celery
worker per queue, one beat) and drives a journey over HTTP as the reverse proxy would send it
(plain HTTP to 127.0.0.1 with ``X-Forwarded-Proto: https`` and ``X-Forwarded-For``):

- ``check --deploy`` with no warning; plain HTTP is redirected to HTTPS;
- security headers on every response, cookie flags;
- the operator's first login: the address confirmed through the link e-mailed via EMAIL_URL
  (a local SMTP sink), the password asked again, TOTP set up from the secret on the page (as an
  authenticator app would), then the staff dashboard and a customer search;
- an API order with a key from ``create_api_key``, whose outbox event the real worker delivers;
- a member's portal page; a hashed static file served by WhiteNoise with far-future caching;
- beat started; failed logins limited per client address across both gunicorn workers, another
  address not; the API throttle holding across both workers too.

Everything it started is stopped, and its database dropped, also when a check fails.
Environment: ``SMOKE_DATABASE_URL`` (a server URL, any database name; default: DATABASE_URL's
server, else postgres://postgres@127.0.0.1:5432), ``SMOKE_REDIS_URL`` (default
redis://127.0.0.1:6379/5, flushed before and after), ``SMOKE_KEEP_LOGS=1`` keeps the log directory.
"""

import base64
import email
import email.message
import hashlib
import hmac
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SYSTEMD = ROOT / "deploy" / "systemd"
# Where the units expect the installation; the smoke test runs this checkout's instead.
INSTALL_DIR = "/opt/clientele"
QUEUES = ("default", "bulk")
GUNICORN_WORKERS = 2
# Failed logins allowed per client address and minute (ACCOUNT_RATE_LIMITS["login_failed"]).
LOGIN_FAILED_PER_IP = 10
API_RATE = 25  # per minute, for this run's second API key
STARTUP_SECONDS = 120  # a loaded CI machine starts Django slowly
STOP_SECONDS = 20
CLIENT_A, CLIENT_B, CLIENT_STAFF, CLIENT_MEMBER, CLIENT_API = (
    "203.0.113.10",
    "203.0.113.20",
    "198.51.100.7",
    "198.51.100.8",
    "198.51.100.9",
)
# allauth's answer once the limit is reached (a form error, in the language asked for).
TOO_MANY_FAILED_LOGINS = "Too many failed login attempts."
ACCESS_LOG_FORMAT = '%(p)s %({x-forwarded-for}i)s "%(r)s" %(s)s'


# Runs manage.py commands (argv lists, JSON in argv[1]) in one process; their outputs, as a JSON
# list, go to the file argv[2] (stdout also carries the log).
_OPERATOR = """
import io, json, sys
import django
django.setup()
from django.core.management import call_command
outputs = []
for argv in json.loads(sys.argv[1]):
    buffer = io.StringIO()
    call_command(*argv, stdout=buffer)
    outputs.append(buffer.getvalue())
with open(sys.argv[2], "w", encoding="utf-8") as fh:
    json.dump(outputs, fh)
"""


class SmokeFailure(Exception):
    pass


def check(condition: object, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def step(name: str) -> Callable:
    def wrap(fn: Callable) -> Callable:
        def run(*args, **kwargs):
            started = time.monotonic()
            result = fn(*args, **kwargs)
            print(f"  ok  {name} ({time.monotonic() - started:.1f}s)", flush=True)
            return result

        return run

    return wrap


# --- the recipe's commands ---------------------------------------------------------------------


def unit_command(unit: str, instance: str = "") -> list[str]:
    """The ExecStart of a systemd unit in deploy/systemd/, for this checkout: the installation's
    virtualenv is ours, ``%i`` the instance, ``%%`` a ``%``."""
    text = (SYSTEMD / unit).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    check(len(lines) == 1, f"{unit}: expected one ExecStart line")
    command = lines[0].removeprefix("ExecStart=").replace("%i", instance).replace("%%", "%")
    argv = shlex.split(command)
    prefix = f"{INSTALL_DIR}/.venv/bin/"
    check(argv[0].startswith(prefix), f"{unit}: ExecStart does not run from {prefix}")
    return [str(BIN / argv[0].removeprefix(prefix)), *argv[1:]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept every message (production refuses a console mail backend)."""

    def handle(self) -> None:
        self.wfile.write(b"220 smoke ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line.strip().split(b" ", 1)[0].upper()
            if verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                lines = []
                while (data := self.rfile.readline()) and data != b".\r\n":
                    lines.append(data[1:] if data.startswith(b"..") else data)
                self.server.messages.append(email.message_from_bytes(b"".join(lines)))  # type: ignore[attr-defined]
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            elif verb == b"EHLO":
                self.wfile.write(b"250 smoke\r\n")
            else:
                self.wfile.write(b"250 ok\r\n")


class SmtpSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _SmtpSink)
        self.messages: list[email.message.Message] = []

    def link(self, to: str, pattern: str, timeout: float = 30) -> str:
        """The first link matching ``pattern`` in a message sent to ``to``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.messages):
                if to not in message.get("To", ""):
                    continue
                for part in message.walk():
                    if part.get_content_type() == "text/plain":
                        text = part.get_payload(decode=True).decode(errors="replace")
                        if found := re.search(pattern, text):
                            return found.group(0)
            time.sleep(0.2)
        raise SmokeFailure(f"no e-mail to {to} with a link like {pattern}")


def totp_now(secret: str, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits): what an authenticator app shows for ``secret``."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


class Client:
    """A browser (or an integration) behind the reverse proxy, coming from ``address``."""

    def __init__(self, base: str, address: str) -> None:
        self.base = base
        self.origin = "https://" + urlsplit(base).netloc
        self.session = requests.Session()
        self.session.headers.update(
            {
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": address,
                "Origin": self.origin,
                "Accept-Language": "en",
            }
        )
        self.responses: list[requests.Response] = []

    def request(self, method: str, path: str, *, follow: bool = True, **kwargs):
        url = path if path.startswith("http") else self.base + path
        url = url.replace(self.origin, self.base, 1)  # links in e-mails name the public site
        for _ in range(10):
            # requests would drop the Secure cookies on plain HTTP: name them ourselves.
            cookie = "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)
            headers = kwargs.pop("headers", {}) | ({"Cookie": cookie} if cookie else {})
            response = self.session.request(
                method, url, allow_redirects=False, timeout=30, headers=headers, **kwargs
            )
            self.responses.append(response)
            if not follow or response.status_code not in (301, 302, 303, 307, 308):
                return response
            location = response.headers["Location"]
            parts = urlsplit(location)
            if parts.scheme == "https":  # the proxy's address is ours, in plain HTTP
                location = urlunsplit(("http", *parts[1:]))
            url = requests.compat.urljoin(url, location)
            method, kwargs = "GET", {}
        raise SmokeFailure(f"too many redirects from {path}")

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post_form(self, path: str, data: dict, *, page: requests.Response | None = None, **kw):
        page = page if page is not None else self.get(path)
        token = csrf_token(page.text)
        return self.request("POST", path, data={"csrfmiddlewaretoken": token, **data}, **kw)


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    check(found, "no CSRF token on the page")
    return found.group(1)


# --- the run -----------------------------------------------------------------------------------


class Stack:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="clientele-smoke-"))
        self.processes: dict[str, subprocess.Popen] = {}
        self.operator_runs = 0
        self.operators: list[subprocess.Popen] = []
        self.logs: dict[str, Path] = {}
        token = secrets.token_hex(4)
        self.db_name = f"clientele_smoke_{os.getpid()}_{token}"
        server = urlsplit(
            os.environ.get("SMOKE_DATABASE_URL")
            or os.environ.get("DATABASE_URL")
            or "postgres://postgres@127.0.0.1:5432/postgres"
        )
        check(server.scheme.startswith("postgres"), "the smoke test needs PostgreSQL")
        self.server = server
        self.database_url = urlunsplit((server.scheme, server.netloc, f"/{self.db_name}", "", ""))
        self.redis_url = os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/5")
        self.port = free_port()
        self.mail = SmtpSink(free_port())
        self.base = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(18)
        dropped = {"DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_REPLICA_URL", "CELERY_BROKER_URL"}
        self.env = {k: v for k, v in os.environ.items() if k not in dropped} | {
            "DJANGO_SETTINGS_MODULE": "config.settings.prod",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "LEDGER_KEY": secrets.token_urlsafe(48),
            "ERASURE_DIGEST_KEY": secrets.token_urlsafe(48),
            "EMAIL_URL": f"smtp://127.0.0.1:{self.mail.server_address[1]}",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SITE_URL": f"https://127.0.0.1:{self.port}",
            "TRUSTED_PROXY_COUNT": "1",
            "API_RATE": f"{API_RATE}/minute",
            "STATIC_ROOT": str(self.tmp / "static"),
            "MEDIA_ROOT": str(self.tmp / "media"),
            "PRIVATE_MEDIA_ROOT": str(self.tmp / "private"),
            "STORAGE_BACKEND": "filesystem",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(GUNICORN_WORKERS),
            # gunicorn reads extra arguments from here: the worker's pid in each access line.
            "GUNICORN_CMD_ARGS": f"--access-logformat {shlex.quote(ACCESS_LOG_FORMAT)}",
            "PYTHONUNBUFFERED": "1",
        }

    # services --------------------------------------------------------------------------------

    def psql(self, sql: str, database: str = "postgres") -> str:
        host, port = self.server.hostname or "127.0.0.1", str(self.server.port or 5432)
        user = self.server.username or "postgres"
        env = os.environ | ({"PGPASSWORD": self.server.password} if self.server.password else {})
        done = subprocess.run(
            ["psql", "-h", host, "-p", port, "-U", user, "-d", database, "-XAtq", "-c", sql],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        check(done.returncode == 0, f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def redis_flush(self) -> None:
        import redis  # the broker's client library, a dependency of celery[redis]

        redis.Redis.from_url(self.redis_url).flushdb()

    def manage(self, *commands: list[str], env: dict | None = None) -> subprocess.Popen:
        """``manage.py`` commands run one after the other in one process (each Django start-up
        costs seconds), as ``call_command`` with the command line's arguments; ``finish`` waits
        for it and returns each command's output."""
        self.operator_runs += 1
        result = self.tmp / f"operator-{self.operator_runs}.json"
        process = subprocess.Popen(
            [str(BIN / "python"), "-c", _OPERATOR, json.dumps(commands), str(result)],
            cwd=ROOT,
            env=self.env | (env or {}),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.operators.append(process)
        process.result_path = result  # type: ignore[attr-defined]
        process.commands = commands  # type: ignore[attr-defined]
        return process

    def finish(self, process: subprocess.Popen, timeout: int = 300) -> list[str]:
        output, _ = process.communicate(timeout=timeout)
        names = ", ".join(" ".join(c) for c in process.commands)  # type: ignore[attr-defined]
        check(process.returncode == 0, f"manage.py {names} failed:\n{output[-4000:]}")
        return json.loads(process.result_path.read_text(encoding="utf-8"))  # type: ignore[attr-defined]

    def start(self, name: str, argv: list[str]) -> None:
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        with open(log, "wb") as out:
            self.processes[name] = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self, name: str) -> str:
        return self.logs[name].read_text(encoding="utf-8", errors="replace")

    def wait_for(self, what: str, ready: Callable[[], bool], timeout: float = STARTUP_SECONDS):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                check(process.poll() is None, f"{name} exited early:\n{self.log(name)[-3000:]}")
            if ready():
                return
            time.sleep(0.3)
        raise SmokeFailure(f"timed out waiting for {what}")

    def stop(self) -> None:
        for process in self.operators:
            if process.poll() is None:
                process.kill()
                process.wait()
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop in {STOP_SECONDS}s: killed", flush=True)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def clean_up(self, *, keep_logs: bool) -> None:
        try:
            self.stop()
        finally:
            self.mail.shutdown()
            self.mail.server_close()
            for action in (
                lambda: self.psql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'),
                self.redis_flush,
            ):
                try:
                    action()
                except Exception as exc:  # clean up what can be cleaned, say what could not
                    print(f"  clean-up: {exc}", file=sys.stderr)
            if keep_logs:
                print(f"  logs kept in {self.tmp}", file=sys.stderr)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    # the recipe ------------------------------------------------------------------------------

    @step("fresh database, Redis db flushed, mail sink listening")
    def prepare(self) -> None:
        self.psql(f'CREATE DATABASE "{self.db_name}"')
        self.redis_flush()
        threading.Thread(target=self.mail.serve_forever, daemon=True).start()

    @step("migrate, check --deploy (no issues) and collectstatic (RUNBOOK: first install)")
    def install(self) -> None:
        static = self.manage(["collectstatic", "--noinput", "-v", "0"])
        migrate = self.manage(
            ["migrate", "--noinput", "-v", "0"], ["check", "--deploy", "--fail-level", "WARNING"]
        )
        _migrated, checked = self.finish(migrate)
        check("System check identified no issues (0 silenced)." in checked, checked)
        self.finish(static)

    def seed(self) -> subprocess.Popen:
        """The operator's account (createsuperuser), reference data and two API keys. On a
        throw-away database, demo stores and members give the journey something to find."""
        return self.manage(
            ["createsuperuser", "--noinput"],
            ["seed_demo", "--customers", "6", "--force", "--password", self.password],
            ["create_api_key", "--name", "smoke orders"],
            ["create_api_key", "--name", "smoke throttle"],
            env={
                "DJANGO_SUPERUSER_EMAIL": "operator@example.com",
                "DJANGO_SUPERUSER_PASSWORD": self.password,
            },
        )

    @step("operator account, reference data and API keys")
    def seeded(self, process: subprocess.Popen) -> dict:
        *_, orders, throttle = self.finish(process)
        return {"orders": orders.strip(), "throttle": throttle.strip()}

    @step("gunicorn (2 workers), a worker per queue and beat started")
    def serve(self) -> None:
        self.start("web", unit_command("clientele-web.service"))
        for queue in QUEUES:
            self.start(f"worker-{queue}", unit_command("clientele-worker@.service", queue))
        self.start("beat", unit_command("clientele-beat.service"))

        def web_up() -> bool:
            try:
                requests.get(self.base + "/accounts/login/", allow_redirects=False, timeout=2)
            except requests.ConnectionError:
                return False
            return True

        self.wait_for("the web server", web_up)
        for queue in QUEUES:
            self.wait_for(
                f"the {queue} worker",
                lambda q=queue: re.search(rf"{q}@\S+ ready\.", self.log(f"worker-{q}")),
            )
        self.wait_for("beat", lambda: "beat: Starting..." in self.log("beat"))
        pids = set(re.findall(r"Booting worker with pid: (\d+)", self.log("web")))
        check(len(pids) == GUNICORN_WORKERS, f"gunicorn booted {len(pids)} workers")

    # the journey -----------------------------------------------------------------------------

    @step("plain HTTP is redirected to HTTPS")
    def https_redirect(self) -> None:
        response = requests.get(self.base + "/accounts/login/", allow_redirects=False, timeout=10)
        check(response.status_code == 301, f"plain HTTP answered {response.status_code}")
        expected = f"https://127.0.0.1:{self.port}/accounts/login/"
        check(response.headers.get("Location") == expected, "redirect goes elsewhere")

    @step("staff login, TOTP set up, dashboard and customer search")
    def staff(self, member_number: str) -> Client:
        staff = Client(self.base, CLIENT_STAFF)
        page = staff.post_form(
            "/accounts/login/", {"login": "operator@example.com", "password": self.password}
        )
        check(page.status_code == 200, f"staff login answered {page.status_code}")
        # A new account confirms its address first: the link comes by e-mail through EMAIL_URL.
        check(page.url.endswith("/accounts/confirm-email/"), f"login went to {page.url}")
        link = self.mail.link("operator@example.com", r"https?://\S+/accounts/confirm-email/\S+/")
        confirm = staff.get(link)
        confirmed = staff.post_form(confirm.url, {}, page=confirm)
        check(confirmed.status_code == 200, f"confirming answered {confirmed.status_code}")
        page = staff.get("/staff/")
        if "/accounts/reauthenticate/" in page.url:
            # Signed in by the confirmation link: setting up TOTP asks for the password again.
            page = staff.post_form(page.url, {"password": self.password}, page=page)
        # Production requires MFA for staff: the first visit lands on the TOTP set-up page.
        check("/2fa/totp/activate/" in page.url, f"/staff/ went to {page.url}, not TOTP set-up")
        found = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', page.text)
        found = found or re.search(
            r'value="([A-Z2-7]{16,})"[^>]*id="authenticator_secret"', page.text
        )
        check(found, "no authenticator secret on the TOTP set-up page")
        done = staff.post_form(page.url, {"code": totp_now(found.group(1))}, page=page)
        check(done.status_code == 200 and "/2fa/totp/activate/" not in done.url, "TOTP refused")
        home = staff.get("/staff/")
        check(home.status_code == 200 and home.url.endswith("/staff/"), "no staff dashboard")
        search = staff.get(f"/staff/customers/?q={member_number}")
        check(search.status_code == 200, f"customer search answered {search.status_code}")
        check(member_number in search.text, "the customer search did not find the member")
        return staff

    @step("API order accepted; its outbox event delivered by the default worker")
    def api_order(self, key: str) -> tuple[str, Client]:
        api = Client(self.base, CLIENT_API)
        api.session.headers["Authorization"] = f"Api-Key {key}"
        found = api.get("/api/v1/customers/", params={"email": "member1@example.com"})
        check(found.status_code == 200, f"customer lookup answered {found.status_code}")
        body = found.json()
        rows = body.get("results", body) if isinstance(body, dict) else body
        rows = rows if isinstance(rows, list) else [rows]
        check(rows and rows[0].get("member_number"), f"no member in {body}")
        member_number = rows[0]["member_number"]
        sql = "SELECT count(*), count(delivered_at) FROM core_outboxevent"
        before = int(self.psql(sql, self.db_name).split("|")[0])
        order = {
            "external_id": f"SMOKE-{secrets.token_hex(4)}",
            "member_number": member_number,
            "store": "sh-jingan",
            "placed_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            "total": "188.00",
        }
        created = api.request(
            "POST", "/api/v1/orders/", json=order, headers={"Idempotency-Key": order["external_id"]}
        )
        check(created.status_code == 201, f"order answered {created.status_code}: {created.text}")
        check(created.json().get("external_id") == order["external_id"], "order not echoed")

        def delivered() -> bool:
            total, done = (int(v) for v in self.psql(sql, self.db_name).split("|"))
            # The order's events, and everything before them, delivered by the worker.
            return total > before and total == done

        self.wait_for("the worker to deliver the order's outbox events", delivered, timeout=60)
        ran = re.search(r"core\.outbox_deliver\[[^\]]+\] succeeded", self.log("worker-default"))
        check(ran, "the default worker logged no delivered outbox task")
        return member_number, api

    @step("member portal page")
    def portal(self, member_number: str) -> Client:
        member = Client(self.base, CLIENT_MEMBER)
        member.post_form(
            "/accounts/login/", {"login": "member1@example.com", "password": self.password}
        )
        page = member.get("/me/points/")
        check(page.status_code == 200 and page.url.endswith("/me/points/"), "no portal page")
        return member

    @step("hashed static file: WhiteNoise, compressed, far-future cache")
    def static(self, html: str, client: Client) -> None:
        found = re.search(r'(/static/[^"\']+\.[0-9a-f]{12}\.css)', html)
        check(found, "no hashed stylesheet on the page")
        response = client.get(found.group(1), headers={"Accept-Encoding": "gzip"})
        check(response.status_code == 200, f"static file answered {response.status_code}")
        cache = response.headers.get("Cache-Control", "")
        max_age = int(re.search(r"max-age=(\d+)", cache).group(1)) if "max-age" in cache else 0
        check(max_age >= 365 * 24 * 3600 and "immutable" in cache, f"Cache-Control: {cache}")
        check(response.headers.get("Content-Encoding") in ("gzip", "br"), "not compressed")

    @step("security headers on every response, cookie flags")
    def headers(self, clients: list[Client]) -> int:
        responses = [r for c in clients for r in c.responses if r.status_code < 500]
        for response in responses:
            h = response.headers
            where = f"{response.request.method} {urlsplit(response.url).path}"
            hsts = h.get("Strict-Transport-Security", "")
            max_age = re.search(r"max-age=(\d+)", hsts)
            check(max_age and int(max_age.group(1)) >= 31536000, f"{where}: HSTS {hsts!r}")
            check("includeSubDomains" in hsts and "preload" in hsts, f"{where}: HSTS {hsts!r}")
            csp = h.get("Content-Security-Policy", "")
            script = re.search(r"script-src ([^;]*)", csp)
            check(script and "'self'" in script.group(1), f"{where}: CSP {csp!r}")
            check("unsafe-inline" not in csp and "unsafe-eval" not in csp, f"{where}: CSP {csp!r}")
            check("frame-ancestors 'none'" in csp, f"{where}: CSP {csp!r}")
            check(h.get("X-Content-Type-Options") == "nosniff", f"{where}: no nosniff")
            check(h.get("Referrer-Policy") == "same-origin", f"{where}: Referrer-Policy")
            check(h.get("Cross-Origin-Opener-Policy") == "same-origin", f"{where}: no COOP")
        cookies = [c for c in (r.raw.headers.getlist("Set-Cookie") for r in responses) for c in c]
        names = {c.split("=", 1)[0] for c in cookies}
        check({"sessionid", "csrftoken"} <= names, f"cookies seen: {sorted(names)}")
        for cookie in cookies:
            name, _, rest = cookie.partition("=")
            attributes = [part.strip().lower() for part in rest.split(";")]
            if "max-age=0" in attributes:  # a deletion (messages shown): it carries nothing
                continue
            flags = {attribute.split("=")[0] for attribute in attributes[1:]}
            check("secure" in flags, f"cookie {name} is not Secure")
            check("samesite" in flags, f"cookie {name} has no SameSite")
            if name == "sessionid":
                check("httponly" in flags, "the session cookie is not HttpOnly")
        return len(responses)

    def _shared(self, pids: set[str], pattern: str, what: str) -> None:
        """The limit must hold whichever process serves a request. Both gunicorn workers
        served this client: proven. One served them all (which process accepts a connection
        is the kernel's choice, and an idle machine often hands every one to the same): then
        the counter must at least live in the Redis every web process shares."""
        if len(pids) >= GUNICORN_WORKERS:
            return
        import redis  # the broker's client library, a dependency of celery[redis]

        keys = list(redis.Redis.from_url(self.redis_url).scan_iter(match=pattern, count=1000))
        check(keys, f"{what}: served by pids {pids} only, and no {pattern} key in Redis")
        print(f"    ({what}: one worker served them all; the counter is in Redis: {keys[0]!r})")

    def _pids(self, requests_of: str, path: str) -> set[str]:
        pattern = re.compile(rf'^<(\d+)> {re.escape(requests_of)} "\w+ {re.escape(path)}')
        return {m.group(1) for line in self.log("web").splitlines() if (m := pattern.match(line))}

    @step("failed logins limited per client address, across both gunicorn workers")
    def login_limit(self) -> None:
        def attempt(client: Client, login: str, page: requests.Response) -> str:
            response = client.post_form(
                "/accounts/login/",
                {"login": login, "password": "wrong-password"},
                page=page,
                follow=False,
            )
            check(response.status_code == 200, f"a failed login answered {response.status_code}")
            return "limited" if TOO_MANY_FAILED_LOGINS in response.text else "refused"

        attacker = Client(self.base, CLIENT_A)
        page = attacker.get("/accounts/login/")
        # Another account each time: the per-address limit is what is tested, not the
        # per-account one.
        outcomes = [
            attempt(attacker, f"nobody{i}@example.com", page)
            for i in range(LOGIN_FAILED_PER_IP + 1)
        ]
        expected = ["refused"] * LOGIN_FAILED_PER_IP + ["limited"]
        check(outcomes == expected, f"failed logins from one address: {outcomes}")
        other = Client(self.base, CLIENT_B)
        outcome = attempt(other, "nobody@example.com", other.get("/accounts/login/"))
        check(outcome == "refused", "another address was limited too")
        pids = self._pids(CLIENT_A, "/accounts/login/")
        self._shared(pids, "*login_failed*", "failed logins from one address")

    @step("API throttle holds across both gunicorn workers")
    def api_throttle(self, key: str) -> None:
        client = Client(self.base, CLIENT_A)
        client.session.headers["Authorization"] = f"Api-Key {key}"
        statuses = [client.get("/api/v1/rewards/").status_code for _ in range(API_RATE + 1)]
        check(statuses == [200] * API_RATE + [429], f"throttled API answered {statuses}")
        pids = self._pids(CLIENT_A, "/api/v1/rewards/")
        self._shared(pids, "*throttle*", "throttled API calls")


def main() -> int:
    started = time.monotonic()
    # A CI timeout stops us with SIGTERM: unwind through the clean-up below, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    stack = Stack()
    print(f"Production smoke test: {stack.base} , database {stack.db_name}", flush=True)
    failed = True
    try:
        stack.prepare()
        stack.install()
        seeding = stack.seed()  # while the services start
        stack.serve()
        keys = stack.seeded(seeding)
        stack.https_redirect()
        member_number, api = stack.api_order(keys["orders"])
        staff = stack.staff(member_number)
        member = stack.portal(member_number)
        stack.static(staff.responses[0].text, member)
        stack.login_limit()
        stack.api_throttle(keys["throttle"])
        count = stack.headers([staff, api, member])
        print(f"  ({count} responses checked for headers; {len(stack.mail.messages)} e-mails sent)")
        failed = False
    except SmokeFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
    except Exception as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise
    finally:
        if failed:
            for name in stack.logs:
                print(f"--- {name} (last lines) ---\n{stack.log(name)[-2500:]}", file=sys.stderr)
        stack.clean_up(keep_logs=failed or os.environ.get("SMOKE_KEEP_LOGS") == "1")
        print(
            f"Production smoke test {'FAILED' if failed else 'passed'} in "
            f"{time.monotonic() - started:.0f}s",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
