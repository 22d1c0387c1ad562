"""Request hygiene before any view runs: NUL bytes and oversized bodies are refused at the door.

PostgreSQL text cannot hold a NUL byte (psycopg raises DataError), and a NUL in a path, query,
header, cookie or form field reaches a query sooner or later. Rather than guard each lookup,
``RequestHygieneMiddleware`` refuses any request that carries one with a 400: under ``/api/``
with the API's ``{"code", "message"}`` envelope, elsewhere with the site's 400 page. File
contents of a multipart upload are exempt (an XLSX file is binary); the import parsers check
their cells. A body above ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (or with more fields than
``DATA_UPLOAD_MAX_NUMBER_FIELDS``, or a Content-Length that is not a number) is answered here
too, so the API's answer is its envelope.
"""

import re
from urllib.parse import unquote_plus

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _

API_PREFIX = "/api/"
NUL = "\x00"
# A \u0000 escape in JSON text: a backslash not itself escaped (an even run of backslashes
# before it), then u0000.
_JSON_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


_DIGITS = re.compile("[0-9]+")


class NulByteRefused(BadRequest):
    pass


def _has_nul_in_headers(request: HttpRequest) -> bool:
    for name, value in request.META.items():
        if (name.startswith("HTTP_") or name in ("CONTENT_TYPE", "CONTENT_LENGTH")) and (
            isinstance(value, str) and NUL in value
        ):
            return True
    # A quoted cookie may spell NUL as the octal escape \000.
    return any(NUL in key or NUL in value for key, value in request.COOKIES.items())


def _has_nul_in_body(request: HttpRequest) -> bool:
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return False
    if request.content_type == "multipart/form-data":
        # Parsing the form here is what CsrfViewMiddleware would do anyway. File contents are
        # left alone; Django already drops unprintable characters from file names.
        return any(
            NUL in key or any(NUL in value for value in values)
            for key, values in request.POST.lists()
        )
    body = request.body
    if not body:
        return False
    if b"\x00" in body:
        return True
    if request.content_type == "application/x-www-form-urlencoded":
        return any(
            NUL in key or any(NUL in value for value in values)
            for key, values in request.POST.lists()
        )
    if request.content_type.endswith("json"):
        return _JSON_NUL_ESCAPE.search(body) is not None
    return False


def _has_nul(request: HttpRequest) -> bool:
    return (
        NUL in request.path
        or NUL in unquote_plus(request.META.get("QUERY_STRING", ""))
        or _has_nul_in_headers(request)
        or _has_nul_in_body(request)
    )


def api_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


class RequestHygieneMiddleware:
    """Refuse NUL bytes anywhere in a request and answer oversized bodies, before any view,
    session or database lookup sees them. It must run before anything loads the session (the
    session cookie is looked up in the database) and after LocaleMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        is_api = request.path.startswith(API_PREFIX)
        length = request.META.get("CONTENT_LENGTH", "")
        if length and not _DIGITS.fullmatch(length.strip()):
            # Django's request.body would raise ValueError on it: a 500.
            if is_api:
                return api_error(
                    "bad_content_length", _("The Content-Length header is not a number."), 400
                )
            raise BadRequest("Content-Length is not a number")
        try:
            refused = _has_nul(request)
        except RequestDataTooBig:
            if is_api:
                return api_error(
                    "request_too_large",
                    _("The request body is larger than %(n)d bytes.")
                    % {"n": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
                    413,
                )
            raise
        except TooManyFieldsSent:
            if is_api:
                return api_error("too_many_fields", _("The request has too many form fields."), 400)
            raise
        except MultiPartParserError:
            if is_api:
                return api_error("parse_error", _("The multipart body is malformed."), 400)
            raise
        if refused:
            if is_api:
                return api_error(
                    "nul_byte",
                    _("The request contains a NUL character, which is never valid."),
                    400,
                )
            raise NulByteRefused("NUL byte in the request")
        return self.get_response(request)


class PermissionsPolicyMiddleware:
    """Every response says which browser features the site may use: by default none of the
    powerful ones (``PERMISSIONS_POLICY`` in settings, feature -> allowed origins)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.value = ", ".join(
            f"{feature}=({' '.join(origins)})"
            for feature, origins in settings.PERMISSIONS_POLICY.items()
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.value:
            response.headers.setdefault("Permissions-Policy", self.value)
        return response
