"""scripts/run.py (``make run``): stopping is quiet, a second Ctrl-C does not wait."""

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A child that ignores the polite signals, like a worker busy finishing a task.
STUBBORN = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "print('child ready', flush=True)\n"
    "time.sleep(60)\n"
)

DRIVER = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("run", {str(ROOT / "scripts" / "run.py")!r})
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)
sys.exit(run.main(commands=[[sys.executable, "-c", {STUBBORN!r}]]))
"""


def _started(proc: subprocess.Popen) -> None:
    waiting = {"Press Ctrl-C", "child ready"}
    for line in proc.stdout:
        waiting = {w for w in waiting if w not in line}
        if not waiting:
            return
    raise AssertionError(f"run.py did not start: {waiting}")


def test_a_second_ctrl_c_while_stopping_kills_at_once_without_a_traceback():
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the signals below reach run.py only, as a terminal's would
    )
    try:
        _started(proc)
        proc.send_signal(signal.SIGINT)  # first Ctrl-C: SIGTERM to the child, which ignores it
        time.sleep(1)
        assert proc.poll() is None  # still waiting for the child
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)  # second Ctrl-C: kill now
        _out, err = proc.communicate(timeout=8)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert time.monotonic() - began < 5
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_the_banner_names_the_password_only_when_it_is_known():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import run
    finally:
        sys.path.remove(str(ROOT / "scripts"))

    assert "Demo logins (password: s3cret):" in run.banner(
        port="8000", broker="b", password="s3cret"
    )
    unknown = run.banner(port="8000", broker="b", password=None)
    assert "password:" not in unknown and "not the demo one" in unknown


def test_the_worker_consumes_both_queues_the_settings_route_to():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import run
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    from django.conf import settings

    worker = next(cmd for cmd in run.server_commands("8000") if "worker" in cmd)
    queues = next(arg for arg in worker if arg.startswith("--queues="))
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert (
        set(queues.removeprefix("--queues=").split(","))
        == {settings.CELERY_TASK_DEFAULT_QUEUE} | routed
        == {"default", "bulk"}
    )
