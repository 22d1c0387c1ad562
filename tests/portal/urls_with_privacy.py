"""The project's URLs plus the staff privacy URLs (until the lead includes them in
apps/dashboard/urls.py, after which this module is equivalent to config.urls)."""

from django.urls import include, path

from apps.dashboard import urls as dashboard_urls
from apps.dashboard import urls_privacy
from config import urls as project_urls

names = {getattr(p, "name", None) for p in dashboard_urls.urlpatterns}
staff = [*dashboard_urls.urlpatterns, *urls_privacy.urlpatterns]
urlpatterns = [
    path("staff/", include((staff, "dashboard")))
    if getattr(p, "pattern", None) and str(p.pattern) == "staff/"
    else p
    for p in project_urls.urlpatterns
]
