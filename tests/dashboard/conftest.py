import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


@pytest.fixture
def count_queries():
    """Number of queries one GET costs (after a warm-up request, so one-off caches are full)."""

    def run(client, url: str, **kwargs) -> int:
        client.get(url, **kwargs)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, **kwargs)
        assert response.status_code == 200
        return len(ctx)

    return run
