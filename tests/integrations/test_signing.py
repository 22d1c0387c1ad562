"""The signature: HMAC-SHA-256 over "<t>.<body>", checked by the receiver's snippet in
docs/integrations.md against a real delivery."""

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from apps.integrations.services import endpoint_secret_rotate, endpoint_test_send
from apps.integrations.signing import signature_header, signature_verify

pytestmark = pytest.mark.django_db

DOC = Path(django_settings.BASE_DIR) / "docs" / "integrations.md"


def test_a_signature_verifies_only_with_the_secret_body_and_a_fresh_timestamp():
    header = signature_header(secret="whsec_a", body=b'{"x":1}', timestamp=1_800_000_000)
    assert signature_verify(secret="whsec_a", header=header, body=b'{"x":1}', now=1_800_000_010)
    assert not signature_verify(secret="whsec_b", header=header, body=b'{"x":1}', now=1_800_000_010)
    assert not signature_verify(secret="whsec_a", header=header, body=b'{"x":2}', now=1_800_000_010)
    assert not signature_verify(secret="whsec_a", header=header, body=b'{"x":1}', now=1_800_000_400)
    assert not signature_verify(secret="whsec_a", header="garbage", body=b'{"x":1}')


def _doc_snippet() -> dict:
    """Run the Python verification snippet of docs/integrations.md; return its names."""
    code = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    names: dict = {}
    exec(compile(code, str(DOC), "exec"), names)  # noqa: S102 (our own documentation)
    return names


def test_the_documented_snippet_verifies_a_real_delivery(
    receiver, make_endpoint, administrator, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        endpoint_test_send(endpoint=endpoint, actor=administrator)
    request = receiver.requests[0]
    verify = _doc_snippet()["verify"]
    header = request.headers["Clientele-Signature"]
    assert verify(endpoint.secret, header, request.body) is True
    assert verify(endpoint.secret, header, request.body + b" ") is False
    assert verify("whsec_other", header, request.body) is False


def test_after_rotation_deliveries_are_signed_with_the_new_secret(
    receiver, make_endpoint, administrator, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(receiver.url)
    old = endpoint.secret
    new = endpoint_secret_rotate(endpoint=endpoint, actor=administrator)
    assert new != old and new.startswith("whsec_")
    with django_capture_on_commit_callbacks(execute=True):
        endpoint_test_send(endpoint=endpoint, actor=administrator)
    request = receiver.requests[0]
    header = request.headers["Clientele-Signature"]
    assert signature_verify(secret=new, header=header, body=request.body)
    assert not signature_verify(secret=old, header=header, body=request.body)
