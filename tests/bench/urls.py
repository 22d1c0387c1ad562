"""The real URLconf plus bare endpoints that serve as references. Only the benchmark loads this
module, through ``override_settings(ROOT_URLCONF="tests.bench.urls")``."""

import json

from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.serializers import validated
from apps.api.views.orders import OrderCreateApi


def noop(request):
    """What a page costs with nothing in it: middleware, session, auth, one constant response."""
    return HttpResponse(b"ok", content_type="text/plain")


def noop_json(request):
    """A bare JSON answer behind the whole middleware stack: the reference for the probes."""
    return JsonResponse({"status": "ok"})


@csrf_exempt
def noop_post(request):
    """A bare JSON endpoint: parse the body, answer 201. The reference for API requests/s."""
    body = json.loads(request.body or b"{}")
    return JsonResponse({"external_id": body.get("external_id", ""), "ok": True}, status=201)


class OrderFloor(APIView):
    """``POST /api/v1/orders/`` without its work: the same authentication (API key), throttles
    and input validation, then a constant 201. What the framework costs per order."""

    def post(self, request):
        data = validated(OrderCreateApi.Input, request.data)
        return Response({"external_id": data["external_id"]}, status=201)


urlpatterns = [
    path("bench/order-floor/", OrderFloor.as_view(), name="bench-order-floor"),
    path("bench/noop/", noop, name="bench-noop"),
    path("bench/noop-json/", noop_json, name="bench-noop-json"),
    path("bench/noop-post/", noop_post, name="bench-noop-post"),
    path("", include("config.urls")),
]
