"""Files people send us (complaint photos and PDFs): checked by content, cleaned, stored where
no URL reaches them, and served only by views that check permission first.

- The type is what the bytes are (magic numbers), never the name or the browser's claim. The
  allow-list is JPEG, PNG, WebP and PDF; anything else (an executable renamed ``.png``, SVG
  with script, HTML) is refused with the reason.
- Size is counted while reading, so an oversized file is refused after ``ATTACHMENT_MAX_BYTES``
  + 1 bytes, not after all of them. Images are refused above ``ATTACHMENT_MAX_PIXELS`` from
  their header, before a pixel is decoded (a decompression bomb never allocates).
- Images are decoded and encoded again: that applies the EXIF orientation and drops every piece
  of metadata (EXIF with its GPS position, XMP, comments, text chunks); what is stored is pixels.
- A PDF must start as one and is refused if it names active content (``/JavaScript``, ``/JS``,
  ``/Launch``, ``/EmbeddedFile``, ``/RichMedia``): a tripwire, not a sanitiser, which is why
  files are only ever served as downloads (``Content-Disposition: attachment``, ``nosniff``, a
  sandboxing CSP), never shown inline.
- Stored names are random (``<prefix>/<yyyy>/<mm>/<uuid>.<ext>``); the person's file name is
  kept on the caller's row for the download. ``PrivateStorage.url()`` raises: nothing here ever
  has a public URL. Refusals write nothing.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import warnings
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from .exceptions import ValidationFailed

IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "application/pdf": "pdf",
}
PDF_ACTIVE = (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/RichMedia")
CHUNK = 64 * 1024


class UploadRefused(ValidationFailed):
    code = "upload_refused"


class PrivateStorage(FileSystemStorage):
    """Files no URL reaches: ``url()`` raises, so no template or admin can link one."""

    def url(self, name):
        raise ValueError("Private files have no URL; serve them through a permission-checked view.")


@dataclass(frozen=True)
class CleanUpload:
    name: str  # the sender's file name, tidied (for the download)
    content_type: str
    extension: str
    content: bytes
    sha256: str
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.content)


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def sniff(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.lstrip()[:5] == b"%PDF-":
        return "application/pdf"
    return None


def _tidy_name(name: str, extension: str) -> str:
    stem = PurePath(str(name or "").replace("\\", "/")).stem
    stem = "".join(ch for ch in stem if ch.isprintable() and ch not in '<>:"/\\|?*')[:80].strip()
    return f"{stem or 'file'}.{extension}"


def _read(upload, name: str) -> bytes:
    limit = settings.ATTACHMENT_MAX_BYTES
    if getattr(upload, "size", None) and upload.size > limit:
        raise UploadRefused(_too_large(name, limit))
    buffer = io.BytesIO()
    chunks = (
        upload.chunks(CHUNK) if hasattr(upload, "chunks") else iter(lambda: upload.read(CHUNK), b"")
    )
    for chunk in chunks:
        buffer.write(chunk)
        if buffer.tell() > limit:
            raise UploadRefused(_too_large(name, limit))
    if buffer.tell() == 0:
        raise UploadRefused(_("%(name)s is empty.") % {"name": name})
    return buffer.getvalue()


def _too_large(name: str, limit: int) -> str:
    return _("%(name)s is larger than %(size)s.") % {"name": name, "size": _megabytes(limit)}


def _clean_image(data: bytes, content_type: str, name: str) -> tuple[bytes, int, int]:
    broken = _("%(name)s is not a readable image.") % {"name": name}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                if width * height > settings.ATTACHMENT_MAX_PIXELS:
                    raise UploadRefused(
                        _("%(name)s has too many pixels (%(w)s × %(h)s).")
                        % {"name": name, "w": width, "h": height}
                    )
                if probe.format != IMAGE_FORMATS[content_type]:
                    raise UploadRefused(broken)
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
                if upright.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                    upright = upright.convert("RGB")
                out = io.BytesIO()
                options = {"quality": 90} if content_type != "image/png" else {"optimize": True}
                if content_type == "image/jpeg" and upright.mode not in ("RGB", "L"):
                    upright = upright.convert("RGB")
                upright.save(out, format=IMAGE_FORMATS[content_type], **options)
                return out.getvalue(), upright.width, upright.height
    except UploadRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRefused(_("%(name)s has too many pixels.") % {"name": name}) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UploadRefused(broken) from None


def _check_pdf(data: bytes, name: str) -> None:
    if b"%%EOF" not in data[-2048:]:
        raise UploadRefused(_("%(name)s is not a complete PDF.") % {"name": name})
    if any(marker in data for marker in PDF_ACTIVE):
        raise UploadRefused(
            _("%(name)s contains active content (scripts or embedded files).") % {"name": name}
        )


def inspect_upload(upload) -> CleanUpload:
    """The upload checked and cleaned, or ``UploadRefused`` naming the file and the reason."""
    name = PurePath(str(getattr(upload, "name", "") or "file")).name[:120]
    data = _read(upload, name)
    content_type = sniff(data[:16])
    if content_type is None:
        raise UploadRefused(
            _("%(name)s is not a JPEG, PNG or WebP image or a PDF.") % {"name": name}
        )
    width = height = None
    if content_type in IMAGE_FORMATS:
        data, width, height = _clean_image(data, content_type, name)
    else:
        _check_pdf(data, name)
    extension = EXTENSIONS[content_type]
    return CleanUpload(
        name=_tidy_name(name, extension),
        content_type=content_type,
        extension=extension,
        content=data,
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
    )


def inspect_uploads(uploads) -> list[CleanUpload]:
    uploads = [u for u in uploads if u]
    limit = settings.ATTACHMENT_MAX_FILES
    if len(uploads) > limit:
        raise UploadRefused(_("Send at most %(n)s files at a time.") % {"n": limit})
    return [inspect_upload(u) for u in uploads]


def private_storage():
    return storages["private"]


def store_private(clean: CleanUpload, *, prefix: str) -> str:
    """Save a checked file under a random name; returns the storage name."""
    now = timezone.now()
    name = f"{prefix}/{now:%Y/%m}/{uuid.uuid4().hex}.{clean.extension}"
    return private_storage().save(name, ContentFile(clean.content))


def private_file_response(name: str, *, download_name: str, content_type: str) -> FileResponse:
    """A download of a private file; the caller has checked permission."""
    response = FileResponse(
        private_storage().open(name, "rb"),
        as_attachment=True,
        filename=download_name,
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
