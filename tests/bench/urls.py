"""The real URLconf plus bare endpoints that serve as references. Only the benchmark loads this
module, through ``override_settings(ROOT_URLCONF="tests.bench.urls")``."""

import json

from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


def noop(request):
    """What a page costs with nothing in it: middleware, session, auth, one constant response."""
    return HttpResponse(b"ok", content_type="text/plain")


@csrf_exempt
def noop_post(request):
    """A bare JSON endpoint: parse the body, answer 201. The reference for API requests/s."""
    body = json.loads(request.body or b"{}")
    return JsonResponse({"external_id": body.get("external_id", ""), "ok": True}, status=201)


urlpatterns = [
    path("bench/noop/", noop, name="bench-noop"),
    path("bench/noop-post/", noop_post, name="bench-noop-post"),
    path("", include("config.urls")),
]
