"""``make run``: the web server plus a Celery worker with beat, stopped together by one Ctrl-C.

Without REDIS_URL / CELERY_BROKER_URL the worker uses Kombu's filesystem transport under var/,
so a laptop needs nothing but Python. A second Ctrl-C while stopping kills what is still
running instead of waiting (and prints no traceback)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DEFAULT_DEMO_PASSWORD = "clientele-demo"  # noqa: S105 - apps.customers.demo.DEFAULT_PASSWORD
STOP_SECONDS = 10
WORKER_QUEUES = ("default", "bulk")

# Prints the first candidate (one per line in CLIENTELE_DEMO_PASSWORDS) that is the password of
# the first demo login, or nothing. Run in a child process so this launcher never loads Django.
_DEMO_LOGIN_CHECK = """
import os
import django
django.setup()
from apps.accounts.models import User
from apps.customers.demo import STAFF_LOGINS
user = User.objects.filter(email=STAFF_LOGINS[0][0]).first()
for candidate in os.environ["CLIENTELE_DEMO_PASSWORDS"].splitlines():
    if user is not None and candidate and user.check_password(candidate):
        print(candidate)
        break
"""


def server_commands(port: str) -> list[list[str]]:
    return [
        [PY, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        [
            PY,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--beat",
            "--pool=solo",
            # Both queues (config/settings/base.py, CELERY_TASK_ROUTES): one worker is enough on
            # a laptop; production runs one worker per queue (deploy/RUNBOOK.md).
            f"--queues={','.join(WORKER_QUEUES)}",
            "--loglevel=WARNING",
            "--schedule",
            str(ROOT / "var" / "celerybeat-schedule"),
        ],
    ]


def demo_password_in_use(env: dict[str, str]) -> str | None:
    """The password the demo logins really have: DEMO_PASSWORD if set and it is the one, else
    seed_demo's default if that is the one; None when neither is (changed since, or no demo
    data) — better nothing than a password that does not work."""
    candidates = [env.get("DEMO_PASSWORD", ""), DEFAULT_DEMO_PASSWORD]
    try:
        done = subprocess.run(
            [PY, "-c", _DEMO_LOGIN_CHECK],
            cwd=ROOT,
            env=env | {"CLIENTELE_DEMO_PASSWORDS": "\n".join(c for c in candidates if c)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = done.stdout.strip()
    return found if done.returncode == 0 and found in candidates else None


def banner(*, port: str, broker: str, password: str | None) -> str:
    logins = (
        f"Demo logins (password: {password}):"
        if password
        else "Demo logins (their password is not the demo one: it was changed, or "
        "seed_demo has not run):"
    )
    return f"""
  Clientele is starting on http://127.0.0.1:{port}/
    staff dashboard  http://127.0.0.1:{port}/staff/
    member portal    http://127.0.0.1:{port}/
    API docs         http://127.0.0.1:{port}/api/docs/
    Django admin     http://127.0.0.1:{port}/admin/
  Celery worker + beat on: {broker}
  {logins}
    admin@example.com  manager@example.com  agent@example.com  marketer@example.com
    member1@example.com  member2@example.com
  Press Ctrl-C to stop everything.
"""


def stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM to every child, then wait up to STOP_SECONDS for all of them and kill the rest.
    Another Ctrl-C meanwhile kills them at once instead of raising KeyboardInterrupt here."""

    def kill_now(*_args) -> None:
        for p in procs:
            if p.poll() is None:
                p.kill()

    signal.signal(signal.SIGINT, kill_now)
    signal.signal(signal.SIGTERM, kill_now)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class _Stop(Exception):
    pass


def main(commands: list[list[str]] | None = None) -> int:
    port = os.environ.get("PORT", "8000")
    broker_dir = ROOT / "var" / "broker"
    for sub in ("out", "processed", "control"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    demo = commands is None
    commands = server_commands(port) if commands is None else commands
    broker = (
        os.environ.get("CELERY_BROKER_URL")
        or os.environ.get("REDIS_URL")
        or "embedded filesystem broker"
    )

    def on_term(*_args) -> None:
        raise _Stop

    signal.signal(signal.SIGTERM, on_term)
    procs: list[subprocess.Popen] = []
    try:
        procs = [subprocess.Popen(cmd, cwd=ROOT, env=env) for cmd in commands]
        password = demo_password_in_use(env) if demo else None
        print(banner(port=port, broker=broker, password=password), flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        pass
    stop(procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
