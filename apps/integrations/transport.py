"""Posting a delivery: where an endpoint may point (no SSRF), and the HTTP request itself.

An endpoint's URL must be ``https`` (``http`` only with ``WEBHOOK_ALLOW_HTTP``, for a receiver on
a trusted network or in tests) and must not reach this machine or its private networks:
loopback, private, link-local (cloud metadata), shared, multicast and reserved addresses are
refused unless ``WEBHOOK_ALLOW_PRIVATE_NETWORKS`` is on. The check runs when the URL is saved
and again at every send on the addresses the name resolves to then, and the connection goes to
the address that was checked (a name that resolves elsewhere a moment later — DNS rebinding —
gains nothing). Redirects are not followed: a 3xx answer is a failed attempt."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from .exceptions import EndpointRefused

USER_AGENT = "Clientele-Webhooks/1"
SNIPPET_BYTES = 1024


def _allowed_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_check(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an acceptable URL, or ``EndpointRefused``.
    Checks the form only; ``address_resolve`` checks where the host leads."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise EndpointRefused(_("This is not a valid URL.")) from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if scheme not in allowed:
        raise EndpointRefused(_("The URL must start with https://."))
    if not parts.hostname:
        raise EndpointRefused(_("The URL has no host name."))
    if parts.username or parts.password:
        raise EndpointRefused(_("The URL must not carry a user name or password."))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


def address_resolve(host: str, port: int) -> str:
    """An address ``host`` resolves to that the endpoint may reach; ``EndpointRefused`` if it
    does not resolve, or if any of its addresses is private (all must pass: a name with one
    public and one private address could be steered to the private one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise EndpointRefused(_("The host name does not resolve.")) from None
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not _allowed_ip(ip):
            raise EndpointRefused(
                _("The URL leads to a private, loopback or link-local address: not allowed.")
            )
        addresses.append(str(ip))
    if not addresses:
        raise EndpointRefused(_("The host name does not resolve."))
    return addresses[0]


def endpoint_url_validate(url: str) -> str:
    """The cleaned URL if an endpoint may use it (form and destination), else
    ``EndpointRefused``."""
    _scheme, host, port, _path = url_check(url)
    address_resolve(host, port)
    return url.strip()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        # The certificate is checked against the host name, the socket goes to the checked address.
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code (None when no answer came) and the start of the body,
    or the error that stopped it; how long it took."""

    status: int | None
    snippet: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(*, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST ``body`` to ``url`` with a short timeout (``WEBHOOK_TIMEOUT_SECONDS`` per connect
    and per read). Never raises for network trouble: the outcome says what happened."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        scheme, host, port, path = url_check(url)
        address = address_resolve(host, port)
    except EndpointRefused as exc:
        return Outcome(status=None, snippet="", error=exc.message, duration_ms=elapsed())
    cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = cls(host, port, address=address, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                **headers,
            },
        )
        response = connection.getresponse()
        snippet = response.read(SNIPPET_BYTES).decode("utf-8", "replace")
        return Outcome(status=response.status, snippet=snippet, error="", duration_ms=elapsed())
    except TimeoutError:
        return Outcome(status=None, snippet="", error="timeout", duration_ms=elapsed())
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(status=None, snippet="", error=repr(exc)[:300], duration_ms=elapsed())
    finally:
        connection.close()
