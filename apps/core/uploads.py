"""Uploaded attachments, checked before anything is stored: ``inspect_upload`` turns one
uploaded file into a ``CleanUpload`` or refuses it with ``UploadRefused`` (a message naming the
file and the reason); ``inspect_uploads`` does it for the several files of one form or request.

What is accepted (``ALLOWED_TYPES``): JPEG, PNG and WebP images and PDF documents, recognised
by their first bytes; the file's name and the content type the client sent are never believed.
An SVG, an HTML page or an executable is refused whatever it is called.

- Size: at most ``ATTACHMENT_MAX_BYTES`` per file, ``ATTACHMENT_MAX_TOTAL_BYTES`` together and
  ``ATTACHMENT_MAX_FILES`` files. A file is read in chunks and reading stops one byte past the
  limit, whatever size the upload claims.
- Images: at most ``ATTACHMENT_MAX_PIXELS`` pixels, checked from the header before any pixel is
  decoded (a decompression bomb, a small file declaring 20000×20000 pixels, is refused without
  allocating them). The image is decoded, turned upright by its EXIF orientation and encoded
  again in its own format from the pixels alone: EXIF (GPS position, camera, time), XMP, IPTC,
  comments, text chunks and the ICC profile are all dropped, and so is anything hidden after
  or between the image data (a polyglot). Animated images keep their first frame only. JPEGs
  are re-encoded with their own quantisation tables (and progressive mode), so quality and
  size stay much the same.
  Decoding needs up to about 8 bytes per pixel of memory: ``ATTACHMENT_MAX_PIXELS`` bounds it.
- PDFs: the ``%PDF-`` header and the tripwire of ``apps.core.pdf_check`` (JavaScript, launch
  actions, embedded files, encryption). The PDF itself is stored as uploaded: a tripwire, not
  a sanitiser.

``CleanUpload.content`` is what gets stored (the re-encoded image, the PDF as uploaded); store
it with ``apps.core.private_files.store_private``. Nothing here writes anything anywhere.
"""

import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from PIL import Image, ImageOps, JpegImagePlugin

from . import pdf_check
from .exceptions import UploadRefused

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
PDF = "application/pdf"
# Detected type -> extensions it may carry (the first is the one a stored file gets).
ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    JPEG: ("jpg", "jpeg", "jpe"),
    PNG: ("png",),
    WEBP: ("webp",),
    PDF: ("pdf",),
}
_PILLOW_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
# Modes each encoder takes; anything else is converted before saving.
_SAVE_MODES = {
    "JPEG": {"L", "RGB", "CMYK"},
    "PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"},
    "WEBP": {"RGB", "RGBA"},
}
# The one key of an image's info that is part of its pixels, not metadata.
_KEPT_INFO = ("transparency",)
ACCEPT = ",".join([*ALLOWED_TYPES, *(f".{ext}" for exts in ALLOWED_TYPES.values() for ext in exts)])

CHUNK_BYTES = 64 * 1024
NAME_MAX_CHARS = 120
FALLBACK_NAME = "attachment"
# Characters that mean something in a path, a header or a shell, replaced in file names.
_NAME_UNSAFE = re.compile(r'[\\/:*?"<>|;]')


@dataclass(frozen=True)
class CleanUpload:
    """One checked attachment, ready to store. ``content`` is the file to keep (an image
    re-encoded without its metadata, a PDF as uploaded); ``size`` and ``sha256`` are of that
    content. ``name`` is the uploaded name made safe to show and to offer as a download name,
    with the extension of the detected type; ``extension`` is the type's own (``jpg``)."""

    content: bytes = field(repr=False)
    mime_type: str
    extension: str
    name: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None


def inspect_upload(uploaded_file: Any, *, max_bytes: int | None = None) -> CleanUpload:
    """Check one uploaded file (anything with ``name`` and ``read``; ``size`` when known) and
    return what may be stored, or raise ``UploadRefused``. Stores nothing."""
    label = safe_file_name(getattr(uploaded_file, "name", "")) or FALLBACK_NAME
    data = _read_at_most(uploaded_file, label=label, limit=max_bytes or _max_bytes())
    if not data:
        raise _refused("empty", _("%(name)s is empty.") % {"name": label}, label)
    mime_type = sniff_type(data)
    if mime_type is None:
        raise _refused(
            "type", _("%(name)s is not a JPEG, PNG, WebP image or PDF.") % {"name": label}, label
        )
    width = height = None
    if mime_type == PDF:
        _check_pdf(data, label=label)
        content = data
    else:
        content, (width, height) = _clean_image(data, mime_type=mime_type, label=label)
    return CleanUpload(
        content=content,
        mime_type=mime_type,
        extension=ALLOWED_TYPES[mime_type][0],
        name=download_name(label, mime_type),
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        width=width,
        height=height,
    )


def inspect_uploads(files: Iterable[Any]) -> list[CleanUpload]:
    """Check the several files of one upload: at most ``ATTACHMENT_MAX_FILES`` of them, at most
    ``ATTACHMENT_MAX_TOTAL_BYTES`` together, each as ``inspect_upload``. All or nothing: when
    any file is refused, ``UploadRefused`` carries every refused file's message in
    ``extra["problems"]`` (its own message is the first)."""
    files = list(files)
    limit = settings.ATTACHMENT_MAX_FILES
    if len(files) > limit:
        message = ngettext(
            "Attach at most %(count)d file.", "Attach at most %(count)d files.", limit
        ) % {"count": limit}
        raise UploadRefused(message, reason="too_many")
    total_limit = settings.ATTACHMENT_MAX_TOTAL_BYTES
    claimed = sum(size for f in files if isinstance(size := getattr(f, "size", None), int))
    if claimed > total_limit:
        raise _total_too_large(total_limit)
    cleaned: list[CleanUpload] = []
    refusals: list[UploadRefused] = []
    for uploaded_file in files:
        try:
            cleaned.append(inspect_upload(uploaded_file))
        except UploadRefused as exc:
            refusals.append(exc)
        # Counted again from what is kept, in case a claimed size was wrong.
        if sum(clean.size for clean in cleaned) > total_limit:
            raise _total_too_large(total_limit)
    if refusals:
        first = refusals[0]
        raise UploadRefused(
            first.message,
            reason=first.extra.get("reason"),
            file_name=first.extra.get("file_name"),
            problems=[exc.message for exc in refusals],
        )
    return cleaned


def sniff_type(head: bytes) -> str | None:
    """The allowed type ``head`` (a file's first bytes) starts like, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def safe_file_name(raw: Any) -> str:
    """An uploaded name made safe to show and to send in a header: its last path part, NFC,
    without control, format (bidirectional overrides, zero-width) or unassigned characters,
    without path or shell metacharacters, spaces collapsed, at most ``NAME_MAX_CHARS`` long
    (the extension kept). May be empty."""
    name = unicodedata.normalize("NFC", str(raw or ""))
    name = " ".join(name.replace("\\", "/").rsplit("/", 1)[-1].split())
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = " ".join(_NAME_UNSAFE.sub("_", name).split()).strip(" .")
    if len(name) > NAME_MAX_CHARS:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:10] if dot and stem else ""
        name = (name[: NAME_MAX_CHARS - len(ext) - 1] + "." + ext) if ext else name[:NAME_MAX_CHARS]
    return name


def download_name(name: str, mime_type: str) -> str:
    """``name`` with an extension of ``mime_type``: its own when it is one, else the type's."""
    allowed = ALLOWED_TYPES[mime_type]
    stem, dot, ext = safe_file_name(name).rpartition(".")
    if not dot:
        stem, ext = ext, ""
    if ext.lower() in allowed and stem:
        return f"{stem}.{ext}"
    return f"{stem or FALLBACK_NAME}.{allowed[0]}"


def megabytes(size: int) -> str:
    """``10 MB`` for a whole number of megabytes, else Django's ``filesizeformat``."""
    mb, rest = divmod(size, 1024 * 1024)
    return _("%(size)d MB") % {"size": mb} if mb and not rest else str(filesizeformat(size))


def _max_bytes() -> int:
    return settings.ATTACHMENT_MAX_BYTES


def _refused(reason: str, message: str, label: str) -> UploadRefused:
    return UploadRefused(message, reason=reason, file_name=label)


def _total_too_large(limit: int) -> UploadRefused:
    return UploadRefused(
        _("The attachments together are larger than %(size)s.") % {"size": megabytes(limit)},
        reason="total_too_large",
    )


def _read_at_most(uploaded_file: IO[bytes] | Any, *, label: str, limit: int) -> bytes:
    """The whole file, read in chunks, refused as soon as it passes ``limit`` bytes (and before
    reading at all when its known size already does)."""

    def too_large() -> UploadRefused:
        message = _("%(name)s is larger than %(size)s.") % {
            "name": label,
            "size": megabytes(limit),
        }
        return _refused("too_large", message, label)

    size = getattr(uploaded_file, "size", None)
    if isinstance(size, int) and size > limit:
        raise too_large()
    if getattr(uploaded_file, "seekable", lambda: False)():
        uploaded_file.seek(0)
    buffer = bytearray()
    while chunk := uploaded_file.read(min(CHUNK_BYTES, limit + 1 - len(buffer))):
        buffer += chunk
        if len(buffer) > limit:
            raise too_large()
    return bytes(buffer)


def _check_pdf(data: bytes, *, label: str) -> None:
    problem = pdf_check.pdf_problem(data)
    if problem == pdf_check.ACTIVE_CONTENT:
        message = _(
            "%(name)s contains active content (scripts, launch actions or embedded files), "
            "which is not accepted."
        )
        raise _refused("active_content", message % {"name": label}, label)
    if problem == pdf_check.ENCRYPTED:
        message = _("%(name)s is password-protected or encrypted, so it cannot be checked.")
        raise _refused("encrypted", message % {"name": label}, label)
    if problem is not None:
        raise _damaged(label)


def _damaged(label: str) -> UploadRefused:
    return _refused("damaged", _("%(name)s is damaged or incomplete.") % {"name": label}, label)


def _too_many_pixels(label: str) -> UploadRefused:
    message = _("%(name)s has too many pixels (more than %(count)s megapixels).") % {
        "name": label,
        "count": f"{settings.ATTACHMENT_MAX_PIXELS / 1_000_000:g}",
    }
    return _refused("pixels", message, label)


def _clean_image(data: bytes, *, mime_type: str, label: str) -> tuple[bytes, tuple[int, int]]:
    """The image in ``data`` encoded again from its pixels alone, upright, and its size."""
    fmt = _PILLOW_FORMATS[mime_type]
    max_pixels = settings.ATTACHMENT_MAX_PIXELS
    try:
        # Opening reads the header only: the size is known before any pixel is decoded.
        with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
            if probe.width * probe.height > max_pixels:
                raise _too_many_pixels(label)
            probe.verify()
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            if image.width * image.height > max_pixels:
                raise _too_many_pixels(label)
            image.load()
            save_options = _save_options(image, fmt, data)
            upright = ImageOps.exif_transpose(image)
            kept = {key: upright.info[key] for key in _KEPT_INFO if key in upright.info}
            upright.info = {}
            if upright.mode not in _SAVE_MODES[fmt]:
                upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
            out = io.BytesIO()
            upright.save(out, format=fmt, **save_options, **kept)
            return out.getvalue(), upright.size
    except UploadRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(label) from None
    except Exception:
        # A hostile or broken file makes Pillow raise almost anything (OSError for a truncated
        # file, SyntaxError, ValueError, struct.error, ...): each is a refusal, never a 500.
        raise _damaged(label) from None


def _save_options(image: Image.Image, fmt: str, data: bytes) -> dict[str, Any]:
    if fmt == "JPEG":
        options: dict[str, Any] = {"progressive": bool(image.info.get("progressive"))}
        if getattr(image, "quantization", None):
            # The source's own tables: the quality it was saved with, not a guess.
            return options | {
                "qtables": image.quantization,
                "subsampling": JpegImagePlugin.get_sampling(image),
            }
        return options | {"quality": 90}
    if fmt == "WEBP":
        # A simple lossless WebP has its VP8L chunk first; anything else is saved lossy.
        return {"lossless": True} if data[12:16] == b"VP8L" else {"quality": 90}
    return {}
