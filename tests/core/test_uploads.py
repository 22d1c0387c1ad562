"""Hostile and ordinary uploads: checked by content, cleaned, stored privately; a refusal
stores nothing."""

import io
import struct
import zlib

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.core.forms import AttachmentsField
from apps.core.uploads import (
    UploadRefused,
    inspect_upload,
    inspect_uploads,
    private_file_response,
    private_storage,
    store_private,
)


def _jpeg_with_gps(orientation: int = 1) -> bytes:
    image = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _upload(name: str, data: bytes, content_type: str = "image/png"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def _png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG file that declares a huge picture of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 64)  # a few rows: enough to look real
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def test_a_photo_loses_its_gps_position_and_is_turned_upright():
    clean = inspect_upload(_upload("IMG_0001.JPG", _jpeg_with_gps(orientation=6), "image/jpeg"))
    assert clean.content_type == "image/jpeg" and clean.name == "IMG_0001.jpg"
    stored = Image.open(io.BytesIO(clean.content))
    assert not stored.getexif() and "exif" not in stored.info
    assert (clean.width, clean.height) == (20, 40)  # rotated by the EXIF orientation


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        (
            "photo.png",
            b"MZ\x90\x00\x03" + b"\x00" * 100,
            "is not a JPEG, PNG or WebP image or a PDF",
        ),
        (
            "photo.png",
            b"\x7fELF\x02\x01\x01" + b"\x00" * 100,
            "is not a JPEG, PNG or WebP image or a PDF",
        ),
        (
            "cat.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "is not a JPEG",
        ),
        ("page.jpg", b"<html><script>alert(1)</script></html>", "is not a JPEG"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "is not a readable image"),
        (
            "doc.pdf",
            b"%PDF-1.4\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>\n%%EOF",
            "active content",
        ),
        ("empty.pdf", b"", "is empty"),
    ],
)
def test_hostile_files_are_refused_with_the_reason(name, data, reason):
    with pytest.raises(UploadRefused) as refused:
        inspect_upload(_upload(name, data))
    assert reason in refused.value.message and name in refused.value.message
    assert refused.value.code == "upload_refused"


def test_a_decompression_bomb_is_refused_from_its_header():
    with pytest.raises(UploadRefused) as refused:
        inspect_upload(_upload("bomb.png", _png_bomb(20_000, 20_000)))
    assert "too many pixels" in refused.value.message


def test_an_oversize_file_is_refused_without_reading_it_all(settings):
    settings.ATTACHMENT_MAX_BYTES = 1000

    class Endless:
        name = "huge.pdf"
        size = None
        read_chunks = 0

        def chunks(self, size):
            while True:
                self.read_chunks += 1
                yield b"%PDF-" + b"x" * (size - 5)

    upload = Endless()
    with pytest.raises(UploadRefused) as refused:
        inspect_upload(upload)
    assert "larger than" in refused.value.message and upload.read_chunks == 1


def test_a_plain_pdf_is_kept_as_is():
    data = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    clean = inspect_upload(_upload("收据.pdf", data, "application/pdf"))
    assert clean.content == data and clean.name == "收据.pdf" and clean.extension == "pdf"


def test_too_many_files_are_refused(settings):
    settings.ATTACHMENT_MAX_FILES = 2
    pdf = b"%PDF-1.4\n%%EOF"
    with pytest.raises(UploadRefused):
        inspect_uploads([_upload(f"{i}.pdf", pdf) for i in range(3)])


def test_private_files_have_no_url_and_download_safely():
    clean = inspect_upload(_upload("收据.pdf", b"%PDF-1.4\n%%EOF", "application/pdf"))
    name = store_private(clean, prefix="tests")
    assert name.startswith("tests/") and "收据" not in name
    with pytest.raises(ValueError):
        private_storage().url(name)
    response = private_file_response(
        name, download_name=clean.name, content_type=clean.content_type
    )
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''%E6%94%B6%E6%8D%AE.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    private_storage().delete(name)


def test_the_form_field_turns_a_refusal_into_its_error():
    field = AttachmentsField()
    with pytest.raises(forms.ValidationError) as refused:
        field.clean([_upload("x.png", b"MZ" + b"\x00" * 20)])
    assert "x.png is not a JPEG" in refused.value.messages[0]
    assert field.clean([]) == []
