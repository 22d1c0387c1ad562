"""Reports and exports read from a read replica (issue 14): apps.core.replica.

The replica here is a second database alias pointing at the test database (what
``DATABASE_REPLICA_URL`` adds, with ``TEST: {"MIRROR": "default"}``), so both aliases see the same
rows once they are committed: the tests that read through the replica are transactional. Which
alias ran a statement is read from each connection's own query log."""

import copy
import datetime as dt
import runpy
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.accounts import roles
from apps.analytics.cohorts import CohortFilters, cohort_matrix
from apps.analytics.kpi_board import kpi_board
from apps.core.exports import csv_lines, xlsx_file
from apps.core.models import AuditEvent
from apps.core.replica import REPLICA, ReplicaRouter, in_reporting, reporting, reporting_iter
from apps.customers.models import Customer, Store, Tag
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory

ROUTERS = ["apps.core.replica.ReplicaRouter"]
BOTH = ["default", REPLICA]
with_replica = pytest.mark.django_db(transaction=True, databases=BOTH)


@pytest.fixture(scope="module", autouse=True)
def replica_alias(django_db_setup, django_db_blocker):
    """The ``replica`` alias, a mirror of the (test) default database, for this module only."""
    default = connections[DEFAULT_DB_ALIAS].settings_dict
    mirror = copy.deepcopy(default)
    mirror["TEST"] = {**mirror["TEST"], "MIRROR": DEFAULT_DB_ALIAS}
    connections.settings[REPLICA] = mirror
    yield
    connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]


@pytest.fixture(autouse=True)
def replica_router(settings):
    settings.DATABASE_ROUTERS = ROUTERS


class Queries:
    """The statements each alias ran inside the block."""

    def __init__(self):
        self._stack = ExitStack()
        self.on: dict[str, CaptureQueriesContext] = {}

    def __enter__(self):
        for alias in BOTH:
            self.on[alias] = self._stack.enter_context(CaptureQueriesContext(connections[alias]))
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)

    def sql(self, alias: str) -> list[str]:
        return [q["sql"] for q in self.on[alias].captured_queries]

    def touching(self, alias: str, table: str) -> list[str]:
        return [sql for sql in self.sql(alias) if f'"{table}"' in sql]


# --- the router -----------------------------------------------------------------------------


@with_replica
def test_reads_inside_reporting_go_to_the_replica_and_outside_to_default():
    customer = CustomerFactory(store=StoreFactory())
    with Queries() as inside, reporting():
        assert Customer.objects.filter(pk=customer.pk).count() == 1
        read = Customer.objects.get(pk=customer.pk)
    assert read._state.db == REPLICA
    assert len(inside.touching(REPLICA, "customers_customer")) == 2
    assert inside.touching(DEFAULT_DB_ALIAS, "customers_customer") == []

    with Queries() as outside:
        assert Customer.objects.get(pk=customer.pk)._state.db == DEFAULT_DB_ALIAS
        # An instance read from the replica does not take later reads there with it.
        assert read.store.pk == customer.store_id
    assert outside.sql(REPLICA) == []
    assert len(outside.touching(DEFAULT_DB_ALIAS, "customers_store")) == 1


@with_replica
def test_writes_inside_reporting_go_to_default():
    customer = CustomerFactory(city="Suzhou")
    with Queries() as queries, reporting():
        Tag.objects.create(name="Replica-proof")
        read = Customer.objects.get(pk=customer.pk)
        read.city = "Hangzhou"
        read.save(update_fields=["city"])  # read from the replica, written to the primary
        read.tags.add(Tag.objects.get(name="Replica-proof"))  # objects of both may be related
    writes = ("INSERT", "UPDATE", "DELETE")
    assert not [sql for sql in queries.sql(REPLICA) if sql.startswith(writes)]
    assert len([sql for sql in queries.sql(DEFAULT_DB_ALIAS) if sql.startswith(writes)]) == 3
    assert Customer.objects.get(pk=customer.pk).city == "Hangzhou"
    assert customer.tags.get().name == "Replica-proof"


@with_replica
def test_locks_and_reads_in_a_transaction_stay_on_default():
    """A locking read is routed as a write; inside a transaction every read stays on the primary,
    which holds what the transaction wrote and the replica does not."""
    customer = CustomerFactory()
    with Queries() as queries, reporting():
        locked = Customer.objects.select_for_update().filter(pk=customer.pk)
        with transaction.atomic():
            assert list(locked) == [customer]
            new = StoreFactory(code="tx-01")
            assert Store.objects.get(code="tx-01") == new
    assert queries.sql(REPLICA) == []
    assert any("FOR UPDATE" in sql for sql in queries.sql(DEFAULT_DB_ALIAS))


@with_replica
def test_migrations_only_on_default():
    assert router.allow_migrate(REPLICA, "customers", model_name="customer") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "customers", model_name="customer") is True


@pytest.mark.django_db
def test_without_a_replica_the_router_is_a_no_op():
    mirror = connections.settings.pop(REPLICA)
    try:
        plain = ReplicaRouter()
        with reporting():
            assert plain.db_for_read(Customer) is None
            assert plain.db_for_write(Customer) is None
            assert router.db_for_read(Customer) == DEFAULT_DB_ALIAS
            customer = CustomerFactory()
            assert Customer.objects.get(pk=customer.pk)._state.db == DEFAULT_DB_ALIAS
        assert plain.allow_relation(customer, customer) is None
        assert plain.allow_migrate(DEFAULT_DB_ALIAS, "customers") is None
    finally:
        connections.settings[REPLICA] = mirror


def test_reporting_iter_is_on_only_while_it_produces_a_row():
    seen = []

    def rows():
        for n in range(3):
            seen.append(in_reporting())
            yield n

    for n in reporting_iter(rows()):
        assert not in_reporting(), n
    assert seen == [True, True, True]

    abandoned = reporting_iter(rows())
    next(abandoned)
    del abandoned
    assert not in_reporting()


def _settings(monkeypatch, **env) -> dict:
    for name in ("DATABASE_REPLICA_URL",):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = Path(django_settings.BASE_DIR) / "config" / "settings" / "base.py"
    return runpy.run_path(str(path))


def test_settings_add_the_replica_only_when_its_url_is_set(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://app@primary:5432/clientele")
    plain = _settings(monkeypatch)
    assert set(plain["DATABASES"]) == {"default"}
    assert "DATABASE_ROUTERS" not in plain

    replicated = _settings(
        monkeypatch, DATABASE_REPLICA_URL="postgres://reader@standby:5432/clientele"
    )
    replica = replicated["DATABASES"]["replica"]
    assert (replica["HOST"], replica["USER"], replica["NAME"]) == ("standby", "reader", "clientele")
    assert replica["CONN_MAX_AGE"] == replicated["DATABASES"]["default"]["CONN_MAX_AGE"]
    assert replica["CONN_HEALTH_CHECKS"] is True
    assert replica["TEST"] == {"MIRROR": "default"}
    assert replicated["DATABASE_ROUTERS"] == ROUTERS


# --- reports and exports --------------------------------------------------------------------


@with_replica
def test_customer_export_reads_its_rows_from_the_replica_and_audits_on_default(client):
    store = StoreFactory(code="sh-01", name="Shanghai One")
    for number in ("1234567897", "2234567896"):
        OrderFactory(customer=CustomerFactory(member_number=number, store=store))
    manager = make_staff(roles.MANAGER, email="manager@test.local")
    assert manager.has_perm("customers.export_customer")
    client.force_login(manager)

    with Queries() as queries:
        response = client.get(reverse("dashboard:customer-export"), {"format": "csv"})
        body = b"".join(response.streaming_content).decode("utf-8")

    assert response.status_code == 200
    assert "1234567897" in body and "2234567896" in body
    # The rows (the profile columns) and their figures (orders) come from the replica ...
    rows_sql = '"customers_customer"."member_number"'
    assert any(rows_sql in sql for sql in queries.sql(REPLICA))
    assert not any(rows_sql in sql for sql in queries.sql(DEFAULT_DB_ALIAS))
    assert queries.touching(REPLICA, "customers_order")
    assert not queries.touching(DEFAULT_DB_ALIAS, "customers_order")
    # ... and the audit row goes to the primary, with the count read from the replica.
    assert queries.touching(DEFAULT_DB_ALIAS, "core_auditevent")
    assert not queries.touching(REPLICA, "core_auditevent")
    event = AuditEvent.objects.get(action="export.customers")
    assert event.actor == manager and event.after["rows"] == 2


@with_replica
def test_export_writers_read_their_rows_inside_reporting():
    CustomerFactory()

    def rows():
        for pk in Customer.objects.values_list("pk", flat=True):
            yield [pk, in_reporting()]

    with Queries() as queries:
        lines = list(csv_lines(["id", "reporting"], rows()))
        xlsx_file(title="t", header=["id", "reporting"], rows=rows()).close()
    assert lines[2].strip().endswith("True")
    assert len(queries.touching(REPLICA, "customers_customer")) == 2
    assert queries.touching(DEFAULT_DB_ALIAS, "customers_customer") == []


@with_replica
def test_kpi_board_and_cohort_matrix_read_from_the_replica():
    OrderFactory(customer=CustomerFactory())
    with Queries() as queries:
        kpi_board(day=timezone.localdate() - dt.timedelta(days=1))
        cohort_matrix(filters=CohortFilters())
    assert queries.touching(REPLICA, "customers_order")
    assert queries.touching(DEFAULT_DB_ALIAS, "customers_order") == []
    assert queries.touching(DEFAULT_DB_ALIAS, "analytics_kpisnapshot") == []
