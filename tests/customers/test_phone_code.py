"""The SMS code's attempt limit holds under parallel guesses and on the database cache."""

import threading

import pytest
from django.core.cache import cache
from django.core.management import call_command

from apps.core import sms
from apps.customers.exceptions import PhoneCodeInvalid, SmsUnavailable
from apps.customers.models import Customer
from apps.customers.services import membership as membership_module
from apps.customers.services import membership_claim_by_phone, phone_code_send
from apps.customers.services.membership import PHONE_CODE_MAX_ATTEMPTS
from tests.accounts.factories import UserFactory
from tests.conftest import sms_code
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613900000021"


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_parallel_guesses_get_no_more_than_the_limit(monkeypatch, sms_outbox):
    """Every thread reads the code's state before any of them records its guess -- the
    interleaving that let a read-modify-write counter give each of them a fresh try."""
    CustomerFactory(phone=PHONE)
    user = UserFactory(email="racer@test.local")
    phone_code_send(user=user, phone=PHONE)
    code = sms_code(sms_outbox[-1])
    threads = PHONE_CODE_MAX_ATTEMPTS * 3
    barrier = threading.Barrier(threads, timeout=10)
    real_get, compared = cache.get, []

    class AllReadFirst:
        def __getattr__(self, name):
            return getattr(cache, name)

        def get(self, key, *args, **kwargs):
            value = real_get(key, *args, **kwargs)
            barrier.wait()
            return value

    real_digest = membership_module._code_digest

    def counting_digest(guess, phone):
        compared.append(guess)
        return real_digest(guess, phone)

    monkeypatch.setattr(membership_module, "cache", AllReadFirst())
    monkeypatch.setattr(membership_module, "_code_digest", counting_digest)
    refused = []

    def guess():
        try:
            membership_module._phone_code_check(user=user, phone=PHONE, code=_wrong(code))
        except PhoneCodeInvalid:
            refused.append(1)

    workers = [threading.Thread(target=guess) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(refused) == threads
    assert len(compared) == PHONE_CODE_MAX_ATTEMPTS  # only this many guesses were ever checked
    monkeypatch.setattr(membership_module, "cache", cache)
    with pytest.raises(PhoneCodeInvalid):  # the right code is locked out now
        membership_claim_by_phone(user=user, phone=PHONE, code=code)


@pytest.fixture
def database_cache(settings):
    """The production cache without Redis (config/settings/base.py): rows in a table."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "test_phone_code_cache",
        }
    }
    call_command("createcachetable", verbosity=0)
    return settings.CACHES


def test_wrong_guesses_count_on_the_database_cache(database_cache, sms_outbox):
    """The claim runs in a transaction; a refused guess must not be rolled back with it."""
    till = CustomerFactory(phone=PHONE)
    user = UserFactory(email="db-cache@test.local")
    phone_code_send(user=user, phone=PHONE)
    code = sms_code(sms_outbox[-1])
    for _ in range(PHONE_CODE_MAX_ATTEMPTS):
        with pytest.raises(PhoneCodeInvalid):
            membership_claim_by_phone(user=user, phone=PHONE, code=_wrong(code))
    with pytest.raises(PhoneCodeInvalid):
        membership_claim_by_phone(user=user, phone=PHONE, code=code)
    assert Customer.objects.get(pk=till.pk).user is None


def test_a_new_code_gets_fresh_attempts(sms_outbox):
    till = CustomerFactory(phone=PHONE)
    user = UserFactory(email="fresh@test.local")
    phone_code_send(user=user, phone=PHONE)
    for _ in range(PHONE_CODE_MAX_ATTEMPTS):
        with pytest.raises(PhoneCodeInvalid):
            membership_claim_by_phone(user=user, phone=PHONE, code=_wrong(sms_code(sms_outbox[-1])))
    phone_code_send(user=user, phone=PHONE)
    customer = membership_claim_by_phone(user=user, phone=PHONE, code=sms_code(sms_outbox[-1]))
    assert customer.pk == till.pk and customer.user == user


def test_a_gateway_outage_is_a_clear_refusal_not_a_crash(monkeypatch, sms_outbox):
    def refuse(self, *, to, body, reference=""):
        raise sms.SmsSendFailed("gateway unavailable after 4 attempts: 503")

    monkeypatch.setattr(sms.LocmemSmsBackend, "send", refuse)
    CustomerFactory(phone=PHONE)
    user = UserFactory(email="outage@test.local")
    with pytest.raises(SmsUnavailable) as refused:
        phone_code_send(user=user, phone=PHONE)
    assert refused.value.status == 503 and "try again" in refused.value.message
    assert sms_outbox == []
