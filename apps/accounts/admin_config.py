from django.contrib.admin.apps import AdminConfig


class ClienteleAdminConfig(AdminConfig):
    """``django.contrib.admin`` with our site: ``admin.site`` is a ClienteleAdminSite
    (Administrators only). Its own module: in ``apps.py`` it would compete with AccountsConfig
    for the app's default config."""

    default_site = "apps.accounts.admin_site.ClienteleAdminSite"
