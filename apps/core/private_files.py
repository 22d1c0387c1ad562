"""Private files (attachments): stored under ``PRIVATE_MEDIA_ROOT``, never under ``MEDIA_ROOT``,
never given a URL, and handed out only by a view that has checked who is asking.

- ``PrivateStorage`` is ``STORAGES["private"]``; its ``url()`` raises, so no template, admin
  widget or serializer can ever link a private file publicly. (The admin's file widgets and
  read-only file fields call ``url()``: an admin page must show a private file as a link to
  the permission-checked view, never as the model's FileField.)
- ``store_private`` saves a ``CleanUpload`` (``apps.core.uploads``) under a random name.
- ``private_file_response`` serves one as a download. It checks nothing about the requester:
  the caller's view must first find the file through a selector scoped to the user (a member's
  own ticket, a staff member's permitted queue) and answer 404 otherwise (invariant 9); only
  then call this with the stored name it read from the database, never a name from the URL.
"""

import unicodedata
import uuid
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core import checks
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.functional import cached_property

from .uploads import ALLOWED_TYPES, FALLBACK_NAME, CleanUpload, download_name, safe_file_name

PRIVATE_STORAGE = "private"
FILE_MODE = 0o640
DIRECTORY_MODE = 0o750
_PREFIX_PART_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Even if a browser is made to render it, a private file runs nothing and loads nothing.
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private, no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class NoPublicUrl(NotImplementedError):
    """A private file has no URL: serve it through a permission-checked view."""


class PrivateStorage(FileSystemStorage):
    """Files under ``PRIVATE_MEDIA_ROOT`` (read when first used, and again when the setting
    changes, as ``FileSystemStorage`` does for ``MEDIA_ROOT``), readable by the application's
    user and group only. ``url()`` raises ``NoPublicUrl``."""

    def __init__(self, location=None, **kwargs):
        kwargs.setdefault("file_permissions_mode", FILE_MODE)
        kwargs.setdefault("directory_permissions_mode", DIRECTORY_MODE)
        super().__init__(location=location, **kwargs)

    @cached_property
    def base_location(self):
        return self._value_or_setting(self._location, settings.PRIVATE_MEDIA_ROOT)

    @cached_property
    def base_url(self):
        return None

    def _clear_cached_properties(self, setting, **kwargs):
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "PRIVATE_MEDIA_ROOT":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)

    def url(self, name):
        raise NoPublicUrl(
            f"{name!r} is a private file: it has no URL. Serve it through a view that checks "
            "permissions (apps.core.private_files.private_file_response)."
        )


def private_storage() -> Storage:
    """``STORAGES["private"]``; a model's ``FileField(storage=private_storage)`` takes it
    (a callable, so migrations do not record the storage)."""
    return storages[PRIVATE_STORAGE]


def store_private(clean_upload: CleanUpload, *, prefix: str) -> str:
    """Save ``clean_upload``'s content as ``<prefix>/<yyyy>/<mm>/<random>.<ext>`` and return that
    storage name (keep it in the database with the upload's name, type, size and sha256). The
    name comes from ``uuid4``, never from the user: it cannot be guessed or collide, and the
    extension is that of the detected type.

    Call it with the files of an upload that passed ``inspect_uploads`` as a whole, inside the
    service that records them: if that transaction rolls back, the files stay behind without a
    row (unreachable, since a file is only served through its row), for a sweep to delete."""
    parts = prefix.split("/")
    if not all(part and set(part) <= _PREFIX_PART_CHARS for part in parts):
        raise ValueError(f"A private file prefix is lowercase path parts, not {prefix!r}.")
    now = timezone.now()
    name = f"{prefix}/{now:%Y}/{now:%m}/{uuid.uuid4().hex}.{clean_upload.extension}"
    return private_storage().save(name, ContentFile(clean_upload.content))


def private_file_response(name: str, *, download_name: str, content_type: str) -> FileResponse:
    """``name`` (a private storage name) as a download: ``Content-Disposition: attachment``
    with ``download_name`` (RFC 6266: an ASCII ``filename`` and the UTF-8 ``filename*``),
    ``content_type`` (an allowed type, else ``application/octet-stream``) and headers that
    keep a browser from rendering, sniffing, framing or caching it. Raises ``Http404`` when
    the file is missing.

    No permission check here: the caller's view has made it (see the module docstring)."""
    if content_type not in ALLOWED_TYPES:
        content_type = "application/octet-stream"
    try:
        handle = private_storage().open(name, "rb")
    except FileNotFoundError:
        raise Http404("No such private file.") from None
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = attachment_disposition(download_name, content_type)
    for header, value in DOWNLOAD_HEADERS.items():
        response[header] = value
    return response


def attachment_disposition(name: str, content_type: str) -> str:
    """``attachment; filename="<ascii>"; filename*=UTF-8''<name>`` for ``name`` made safe
    (``apps.core.uploads.safe_file_name``), with an extension of ``content_type`` when it is an
    allowed one. The ASCII name is for old clients: the name's ASCII letters, or a plain
    ``attachment.<ext>`` when it has none."""
    safe = safe_file_name(name) or FALLBACK_NAME
    if content_type in ALLOWED_TYPES:
        safe = download_name(safe, content_type)
    ascii_name = unicodedata.normalize("NFKD", safe).encode("ascii", "ignore").decode()
    ascii_name = " ".join(ascii_name.replace("%", "_").split())
    stem, dot, ext = ascii_name.rpartition(".")
    if dot and not stem.strip(" ._-"):
        ascii_name = f"{FALLBACK_NAME}.{ext}"
    elif not dot and not ascii_name.strip(" ._-"):
        ascii_name = FALLBACK_NAME
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe, safe='')}"


def private_root_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``PRIVATE_MEDIA_ROOT`` must share no directory with what is served publicly
    (``MEDIA_ROOT``, ``STATIC_ROOT``, ``STATICFILES_DIRS``), either way round."""
    root = Path(settings.PRIVATE_MEDIA_ROOT).resolve()
    public = [("MEDIA_ROOT", settings.MEDIA_ROOT), ("STATIC_ROOT", settings.STATIC_ROOT)]
    for entry in settings.STATICFILES_DIRS:
        public.append(("STATICFILES_DIRS", entry[1] if isinstance(entry, tuple) else entry))
    errors = []
    for setting, path in public:
        if not path:
            continue
        served = Path(path).resolve()
        if root == served or served in root.parents or root in served.parents:
            errors.append(
                checks.Error(
                    f"PRIVATE_MEDIA_ROOT ({root}) overlaps {setting} ({served}).",
                    hint="Keep private files in a directory of their own that no URL serves.",
                    id="core.E001",
                )
            )
    return errors
