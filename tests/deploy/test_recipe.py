"""The production recipe in deploy/ says one thing everywhere: the compose file and the Dockerfile
run the commands of the systemd units, there is one worker per Celery queue and exactly one beat,
and gunicorn's config names only settings gunicorn has. ``make smoke`` then runs those commands
for real (scripts/smoke_prod.py); this checks the files it cannot start here (no container images
on this machine)."""

import importlib.util
import os
import runpy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from gunicorn.config import KNOWN_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("smoke_prod", ROOT / "scripts" / "smoke_prod.py")
smoke_prod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(smoke_prod)
INSTALL_DIR, QUEUES, unit_command = (
    smoke_prod.INSTALL_DIR,
    smoke_prod.QUEUES,
    smoke_prod.unit_command,
)
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
VENV = f"{INSTALL_DIR}/.venv/bin/"
COMPOSE_ENV = {
    "POSTGRES_PASSWORD": "pw",
    "DJANGO_SECRET_KEY": "k",
    "LEDGER_KEY": "l",
    "ERASURE_DIGEST_KEY": "e",
    "EMAIL_URL": "smtp://mail:25",
    "ALLOWED_HOSTS": "crm.example.com",
    "SITE_URL": "https://crm.example.com",
}


def exec_start(unit: str, instance: str = "") -> list[str]:
    """A unit's ExecStart as the container would run it (the image installs to INSTALL_DIR)."""
    text = (SYSTEMD / unit).read_text(encoding="utf-8")
    [line] = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
    command = line.removeprefix("ExecStart=").replace("%i", instance).replace("%%", "%")
    return shlex.split(command)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_services_run_the_commands_of_the_systemd_units(compose):
    services = compose["services"]
    assert services["web"]["command"] == exec_start("clientele-web.service")
    for queue in QUEUES:
        command = services[f"worker-{queue}"]["command"]
        assert command == exec_start("clientele-worker@.service", queue)
    assert services["beat"]["command"] == exec_start("clientele-beat.service")
    assert services["migrate"]["command"] == [f"{VENV}python", "manage.py", "migrate", "--noinput"]


def test_the_stack_has_postgres_redis_one_worker_per_queue_and_exactly_one_beat(compose):
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "beat"} <= set(services)
    workers = {
        name: service
        for name, service in services.items()
        if "worker" in service.get("command", [])
    }
    queues = {s["command"][s["command"].index("--queues") + 1] for s in workers.values()}
    assert queues == set(QUEUES) == {"default", "bulk"}
    beats = [s for s in services.values() if "beat" in s.get("command", [])]
    assert len(beats) == 1 and "deploy" not in beats[0] and "scale" not in beats[0]
    units = sorted(p.name for p in SYSTEMD.glob("*.service"))
    assert units == ["clientele-beat.service", "clientele-web.service", "clientele-worker@.service"]


def test_every_celery_task_goes_to_a_queue_the_recipe_runs_a_worker_for():
    from config.celery import app

    app.loader.import_default_modules()
    names = [name for name in app.tasks if not name.startswith("celery.")]
    assert names
    router = app.amqp.router
    queues = {router.route({}, name)["queue"].name for name in names}
    assert queues == set(QUEUES)


def test_app_services_share_the_production_environment_and_the_private_volume(compose):
    app = [s for n, s in compose["services"].items() if n not in {"postgres", "redis"}]
    for service in app:
        env = service["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.prod"
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert env["DATABASE_URL"].startswith("postgres://")
    for name in ("web", "worker-default", "worker-bulk"):
        assert "private:/var/lib/clientele/private" in compose["services"][name]["volumes"]
    # Every variable the app services read is documented in the example environment file.
    example = (DEPLOY / "clientele.env.example").read_text(encoding="utf-8")
    documented = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line}
    # (The database and broker are the bundled services; the metrics directory is the
    # container's own tmpfs, as each systemd unit sets its own.)
    own = {"REDIS_URL", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"}
    assert set(app[0]["environment"]) - documented <= own - documented


def test_the_image_runs_the_web_unit_command_from_the_locked_dependencies():
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    cmd = [ln for ln in dockerfile.splitlines() if ln.startswith("CMD ")]
    assert len(cmd) == 1 and yaml.safe_load(cmd[0][4:]) == exec_start("clientele-web.service")
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "collectstatic" in dockerfile and "\nUSER clientele" in dockerfile
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", "var"} <= set(ignore)


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no `docker compose` plugin on this machine: the YAML tests above stand in for it",
)
def test_docker_compose_accepts_the_file():
    done = subprocess.run(
        ["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        env=os.environ | COMPOSE_ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_compose_refuses_to_start_without_the_secrets(compose):
    env = compose["x-app"]["environment"]
    for name in ("DJANGO_SECRET_KEY", "LEDGER_KEY", "ERASURE_DIGEST_KEY", "EMAIL_URL"):
        assert env[name] == f"${{{name}:?set {name}}}"


def test_gunicorn_config_names_only_gunicorn_settings_and_reads_the_environment(monkeypatch):
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.1:9123")
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    values = {
        k: v
        for k, v in runpy.run_path(str(DEPLOY / "gunicorn.conf.py")).items()
        if not k.startswith("_") and not callable(v) and not isinstance(v, type(os))
    }
    known = {s.name for s in KNOWN_SETTINGS}
    assert set(values) <= known, set(values) - known
    assert (values["bind"], values["workers"], values["worker_class"]) == (
        "127.0.0.1:9123",
        3,
        "sync",
    )
    assert values["forwarded_allow_ips"] == "127.0.0.1,::1"


def test_units_run_from_the_installation_and_the_smoke_test_maps_them_to_this_checkout():
    for unit in ("clientele-web.service", "clientele-worker@.service", "clientele-beat.service"):
        text = (SYSTEMD / unit).read_text(encoding="utf-8")
        assert f"WorkingDirectory={INSTALL_DIR}\n" in text
        assert "EnvironmentFile=/etc/clientele/clientele.env\n" in text
        assert "User=clientele\n" in text
    argv = unit_command("clientele-worker@.service", "bulk")
    assert Path(argv[0]).parent == Path(sys.executable).parent
    assert argv[1:] == exec_start("clientele-worker@.service", "bulk")[1:]
    assert "--hostname" in argv and argv[argv.index("--hostname") + 1] == "bulk@%h"
