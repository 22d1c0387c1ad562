"""Every API error is ``{"code": ..., "message": ...}`` with a fitting HTTP status."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.exceptions import ApplicationError


def error_response(code: str, message: str, http_status: int, **extra) -> Response:
    return Response({"code": code, "message": message, **extra}, status=http_status)


def _first_error(detail) -> tuple[str, str]:
    """(field path, message) of the first validation error, for a one-line message."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            path, msg = _first_error(value)
            field = key if key != "non_field_errors" else ""
            return (f"{field}.{path}".strip(".") if path else field), msg
    if isinstance(detail, list) and detail:
        return _first_error(detail[0])
    return "", str(detail)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return error_response(exc.code, exc.message, exc.status)
    if isinstance(exc, Http404):
        return error_response("not_found", _("Not found."), status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        field, msg = _first_error(exc.detail)
        return error_response(
            "validation_error",
            f"{field}: {msg}" if field else msg,
            status.HTTP_400_BAD_REQUEST,
            errors=exc.detail,
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else exc.default_code,
            "message": detail,
        }
    return response


NOT_FOUND_ROUTE = "api-not-found"


@csrf_exempt
def api_not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """The last route under ``/api/`` (config/urls.py): an address no API route matched is a
    JSON 404 with the envelope, never the site's HTML page. This route makes every ``/api/``
    path "valid", so CommonMiddleware would no longer add a missing trailing slash; a GET to
    a real endpoint without it is redirected here the same way."""
    path = request.path_info
    if settings.APPEND_SLASH and not path.endswith("/") and request.method in ("GET", "HEAD"):
        try:
            match = resolve(f"{path}/")
        except Resolver404:
            match = None
        if match is not None and match.url_name != NOT_FOUND_ROUTE:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return JsonResponse(
        {
            "code": "not_found",
            "message": _("There is no API endpoint at %(path)s.") % {"path": request.path},
        },
        status=404,
    )


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    """``handler400``: a request Django refuses before any view (a suspicious operation such as
    a disallowed host or too many fields) is the envelope under ``/api/``, the page elsewhere."""
    if _is_api(request):
        return JsonResponse(
            {"code": "bad_request", "message": _("The request could not be read.")}, status=400
        )
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: an unexpected failure (logged by Django with its traceback) is the
    envelope under ``/api/``, so an integration can always parse what it gets back."""
    if _is_api(request):
        return JsonResponse(
            {
                "code": "server_error",
                "message": _("Something went wrong on our side; it has been logged. Try again."),
            },
            status=500,
        )
    return defaults.server_error(request)
