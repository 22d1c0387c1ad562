"""``make run``: the web server plus a Celery worker with beat, stopped together by one Ctrl-C.

Without REDIS_URL / CELERY_BROKER_URL the worker uses Kombu's filesystem transport under var/,
so a laptop needs nothing but Python."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def main() -> int:
    port = os.environ.get("PORT", "8000")
    broker_dir = ROOT / "var" / "broker"
    for sub in ("out", "processed", "control"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    procs = [
        subprocess.Popen(
            [PY, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=env
        ),
        subprocess.Popen(
            [
                PY,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--beat",
                "--pool=solo",
                "--loglevel=WARNING",
                "--schedule",
                str(ROOT / "var" / "celerybeat-schedule"),
            ],
            cwd=ROOT,
            env=env,
        ),
    ]
    broker = (
        os.environ.get("CELERY_BROKER_URL")
        or os.environ.get("REDIS_URL")
        or "embedded filesystem broker"
    )
    password = os.environ.get("DEMO_PASSWORD", "clientele-demo")
    print(
        f"""
  Clientele is starting on http://127.0.0.1:{port}/
    staff dashboard  http://127.0.0.1:{port}/staff/
    member portal    http://127.0.0.1:{port}/
    API docs         http://127.0.0.1:{port}/api/docs/
    Django admin     http://127.0.0.1:{port}/admin/
  Celery worker + beat on: {broker}
  Demo logins (password: {password}):
    admin@example.com  manager@example.com  agent@example.com  marketer@example.com
    member1@example.com  member2@example.com
  Press Ctrl-C to stop everything.
""",
        flush=True,
    )

    def stop(*_args):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
