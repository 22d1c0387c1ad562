"""The last-Administrator rule under real concurrency (PostgreSQL): two Administrators who
demote or deactivate each other at the same moment leave one Administrator, never none."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from apps.accounts import roles
from apps.accounts.models import User
from apps.accounts.services import LastAdministrator, staff_deactivate, staff_role_change
from tests.conftest import make_staff

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(*calls) -> list:
    start = threading.Event()

    def run(call):
        try:
            start.wait()
            call()
            return "ok"
        except LastAdministrator:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        start.set()
        return sorted(f.result(timeout=60) for f in futures)


def _active_administrators() -> int:
    return sum(roles.is_administrator(u) for u in User.objects.all())


@pytest.mark.parametrize("superuser", [False, True])
@pytest.mark.parametrize("repeat", range(3))
def test_two_administrators_demoting_each_other_leave_one(superuser, repeat):
    a = make_staff(roles.ADMINISTRATOR, email="a@test.local", is_superuser=superuser)
    b = make_staff(roles.ADMINISTRATOR, email="b@test.local", is_superuser=superuser)
    outcomes = _race(
        lambda: staff_role_change(user=b, role=roles.MANAGER, actor=a),
        lambda: staff_role_change(user=a, role=roles.MANAGER, actor=b),
    )
    assert outcomes == ["ok", "refused"]
    assert _active_administrators() == 1


def test_demotion_racing_a_deactivation_leaves_one():
    a = make_staff(roles.ADMINISTRATOR, email="a@test.local")
    b = make_staff(roles.ADMINISTRATOR, email="b@test.local")
    outcomes = _race(
        lambda: staff_role_change(user=b, role=roles.SUPPORT_AGENT, actor=a),
        lambda: staff_deactivate(user=a, actor=b),
    )
    assert outcomes == ["ok", "refused"]
    assert _active_administrators() == 1
