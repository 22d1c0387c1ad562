from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from apps.accounts.views import signup_phone
from apps.api.errors import NOT_FOUND_ROUTE, api_not_found
from apps.core.health import healthz, readyz
from apps.core.metrics import metrics_view

# Under /api/ a refused or failed request answers the API's {"code", "message"} envelope.
handler400 = "apps.api.errors.bad_request"
handler500 = "apps.api.errors.server_error"


class FaviconView(RedirectView):
    """``/favicon.ico``, which browsers and bookmark tools ask for by themselves: the SVG icon
    that every page links (its hashed static URL in production, so asked for at request time)."""

    permanent = False

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("img/favicon.svg")


admin.autodiscover()
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    # Answered by apps.core.health.ProbeMiddleware first (GET, HEAD); routed here too, so other
    # methods get a 405 and reverse() knows them.
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/signup/phone/", signup_phone, name="account_signup_phone"),
    path("favicon.ico", FaviconView.as_view(), name="favicon"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("staff/", include("apps.dashboard.urls")),
    path("api/", include("apps.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("apps.portal.urls")),
    # Last: any /api/ address no route above matched is a JSON 404 with the API's envelope.
    re_path(r"^api/", api_not_found, name=NOT_FOUND_ROUTE),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
