"""The private storage on an S3-compatible object store (``STORAGE_BACKEND=s3``).

The same promise as ``private_files.PrivateStorage`` on a disk: objects are written ``private``
(never public-read, whatever the bucket's default), under a random name, and have no URL --
not even a signed one, which anybody holding it could use until it expires. A private file is
streamed by the permission-checked view (``private_files.private_file_response``), which opens it
through this storage. Its own module so that boto3 is imported only where it is configured.
"""

from django.core.exceptions import ImproperlyConfigured
from storages.backends.s3 import S3Storage

from .private_files import NoPublicUrl


class PrivateS3Storage(S3Storage):
    """S3Storage with ``private`` objects and no ``url()`` (raises ``NoPublicUrl``)."""

    def get_default_settings(self):
        return super().get_default_settings() | {
            "default_acl": "private",
            "querystring_auth": False,
            "custom_domain": None,
            "file_overwrite": False,
        }

    def __init__(self, **settings):
        super().__init__(**settings)
        if self.default_acl != "private" or self.custom_domain:
            raise ImproperlyConfigured(
                "The private storage keeps default_acl 'private' and has no custom_domain."
            )

    def url(self, name, parameters=None, expire=None, http_method=None):
        raise NoPublicUrl(
            f"{name!r} is a private file: it has no URL, signed or not. Serve it through a view "
            "that checks permissions (apps.core.private_files.private_file_response)."
        )
