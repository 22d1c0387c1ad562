"""The real URLConf plus stand-ins for the export and import routes, so the buttons and nav
entries pointing at them can be tested whether or not those views (another module) are mounted
yet. When they are, the real routes come first and win."""

from django.http import HttpResponse
from django.urls import include, path

from apps.dashboard import urls as dashboard_urls


def _stand_in(request):
    return HttpResponse("export")


dashboard_patterns = (
    [
        *dashboard_urls.urlpatterns,
        path("export/customers/", _stand_in, name="customer-export"),
        path("export/orders/", _stand_in, name="order-export"),
        path("import/", _stand_in, name="data-import"),
    ],
    "dashboard",
)

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("staff/", include(dashboard_patterns)),
    path("", include("apps.portal.urls")),
]
