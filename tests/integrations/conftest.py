"""Webhook tests post to a real receiver on 127.0.0.1: plain http and loopback are allowed
here (production refuses both), and the timeout is short."""

import pytest

from apps.integrations.services import endpoint_create

from .receiver import receiver_start, receiver_stop


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 50
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 30
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 3600
    return settings


@pytest.fixture
def receiver():
    receiver = receiver_start()
    yield receiver
    receiver_stop(receiver)


@pytest.fixture
def make_endpoint(db, administrator):
    def make(url, events=("order.earned",), **kwargs):
        endpoint, _secret = endpoint_create(
            url=url,
            description=kwargs.pop("description", "Shop"),
            event_types=list(events),
            actor=administrator,
        )
        return endpoint

    return make
