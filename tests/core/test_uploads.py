"""Attachments checked by content (apps.core.uploads, apps.core.pdf_check): JPEG, PNG, WebP
and PDF only, size and pixel limits, images re-encoded without metadata, the PDF tripwire;
hostile files are refused with a message naming them, and nothing is stored."""

import hashlib
import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, ImageCms, ImageFile
from PIL.PngImagePlugin import PngInfo

from apps.core import pdf_check
from apps.core.exceptions import UploadRefused, ValidationFailed
from apps.core.private_files import store_private
from apps.core.uploads import CleanUpload, inspect_upload, inspect_uploads, safe_file_name

GPS_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
    b'exif:GPSLatitude="31,14.0N" exif:GPSLongitude="121,28.0E"/></rdf:RDF></x:xmpmeta>'
)
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 50 + b"This program cannot be run in DOS"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b"<script>fetch('/me/').then(r => r.text()).then(alert)</script></svg>"
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
NOT_ALLOWED = "{} is not a JPEG, PNG, WebP image or PDF."


# --- samples, made here ------------------------------------------------------------------------


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.DateTime] = "2026:01:02 03:04:05"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 14.0, 5.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 28.0, 9.5)
    return exif


def image_bytes(fmt: str, *, size=(40, 20), mode="RGB", color="red", **options) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt, **options)
    return out.getvalue()


def jpeg(**options) -> bytes:
    return image_bytes("JPEG", **options)


def noise_jpeg() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((256, 256), 80).save(out, "JPEG", quality=95)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """A valid one-colour 1-bit PNG of ``width`` × ``height``: tens of kilobytes of file, as many
    pixels as declared once decoded."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


def png_with_bad_crc() -> bytes:
    data = bytearray(image_bytes("PNG", size=(50, 50)))
    at = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[at - 4 : at])
    data[at + 4 + length] ^= 0xFF
    return bytes(data)


def pdf(*objects: bytes, catalog: bytes = b"", trailer: bytes = b"") -> bytes:
    """A one-page PDF; ``objects`` are numbered from 4, ``catalog`` and ``trailer`` add
    entries to those dictionaries."""
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        *objects,
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(bodies, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s >>\n" % (len(bodies) + 1, trailer)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def object_stream(content: bytes, *, filters: bytes = b"/Filter /FlateDecode") -> bytes:
    packed = zlib.compress(content) if b"FlateDecode" in filters else content
    return b"<< /Type /ObjStm /N 1 /First 4 %s /Length %d >>\nstream\n%s\nendstream" % (
        filters,
        len(packed),
        packed,
    )


def stored_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def refusal(file) -> UploadRefused:
    with pytest.raises(UploadRefused) as caught:
        inspect_upload(file)
    return caught.value


# --- type by content ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("photo.png", ELF, "image/png"),
        ("photo.png", PE, "image/png"),
        ("photo.png", ZIP, "image/png"),
        ("drawing.svg", SVG, "image/svg+xml"),
        ("photo.png", SVG, "image/png"),
        ("photo.jpg", HTML, "image/jpeg"),
        ("notes.pdf", b"just text, said to be a PDF", "application/pdf"),
    ],
)
def test_a_file_that_is_not_an_allowed_type_is_refused_whatever_its_name(
    name, data, content_type, private_media
):
    refused = refusal(upload(name, data, content_type))
    assert (refused.code, refused.status, refused.extra["reason"]) == (
        "upload_refused",
        400,
        "type",
    )
    assert refused.message == NOT_ALLOWED.format(name)
    assert isinstance(refused, ValidationFailed)
    assert stored_files(private_media) == []


def test_the_type_comes_from_the_content_not_the_name_or_the_client():
    clean = inspect_upload(upload("scan.pdf", image_bytes("PNG"), "application/pdf"))
    assert (clean.mime_type, clean.extension, clean.name) == ("image/png", "png", "scan.png")
    clean = inspect_upload(upload("IMG_0001.JPEG", jpeg(), "text/html"))
    assert (clean.mime_type, clean.extension, clean.name) == ("image/jpeg", "jpg", "IMG_0001.JPEG")


def test_a_clean_upload_describes_what_is_stored():
    clean = inspect_upload(upload("photo.webp", image_bytes("WEBP", size=(30, 10))))
    assert (clean.mime_type, clean.width, clean.height) == ("image/webp", 30, 10)
    assert clean.size == len(clean.content)
    assert clean.sha256 == hashlib.sha256(clean.content).hexdigest()
    assert "content" not in repr(clean)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("C:\\Users\\wei\\photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ('a"b;c<d>|e.pdf', "a_b_c_d__e.pdf"),
        ("\u202egnp.exe", "gnp.exe"),  # a right-to-left override would show it as exe.png
        ("zero\u200bwidth\x00\x07.png", "zerowidth.png"),
        ("  投诉   照片 .jpg ", "投诉 照片 .jpg"),
        ("..", ""),
    ],
)
def test_an_uploaded_name_is_made_safe(raw, safe):
    assert safe_file_name(raw) == safe


def test_a_long_name_keeps_its_extension():
    name = safe_file_name("长" * 300 + ".jpeg")
    assert len(name) == 120 and name.endswith("长.jpeg")


def test_the_clean_name_carries_the_detected_extension():
    assert inspect_upload(upload("\u202egnp.exe", jpeg())).name == "gnp.jpg"
    assert inspect_upload(upload("\u202e\u200b", jpeg())).name == "attachment.jpg"


# --- images: metadata, orientation ----------------------------------------------------------------


def test_jpeg_exif_gps_xmp_comment_and_icc_are_gone_from_the_stored_file(private_media):
    data = jpeg(exif=gps_exif(), xmp=GPS_XMP, comment=b"shot at home", icc_profile=SRGB_ICC)
    assert b"Exif" in data and b"GPSLatitude" in data and b"shot at home" in data

    clean = inspect_upload(upload("photo.jpg", data, "image/jpeg"))
    stored = (private_media / store_private(clean, prefix="complaints")).read_bytes()

    assert stored == clean.content
    for marker in (b"Exif", b"GPSLatitude", b"ns.adobe.com/xap", b"shot at home", b"ICC_PROFILE"):
        assert marker not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert dict(image.getexif()) == {}
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)


def test_png_exif_text_xmp_and_icc_chunks_are_gone():
    info = PngInfo()
    info.add_text("Location", "31.2304 N, 121.4737 E")
    info.add_itxt("XML:com.adobe.xmp", GPS_XMP.decode())
    data = image_bytes("PNG", mode="RGBA", exif=gps_exif(), pnginfo=info, icc_profile=SRGB_ICC)
    clean = inspect_upload(upload("screen.png", data))
    for chunk in (b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"iCCP"):
        assert chunk not in clean.content
    with Image.open(io.BytesIO(clean.content)) as image:
        assert (image.mode, image.info, image.text) == ("RGBA", {}, {})


def test_webp_exif_xmp_and_icc_chunks_are_gone():
    data = image_bytes("WEBP", exif=gps_exif(), xmp=GPS_XMP, icc_profile=SRGB_ICC)
    assert b"EXIF" in data and b"XMP " in data
    clean = inspect_upload(upload("photo.webp", data))
    for chunk in (b"EXIF", b"XMP ", b"ICCP", b"GPSLatitude"):
        assert chunk not in clean.content


def test_a_transparent_palette_png_keeps_its_transparency():
    image = Image.new("P", (8, 8), 1)
    image.putpalette([0, 0, 0, 255, 0, 0])
    out = io.BytesIO()
    image.save(out, "PNG", transparency=0)
    clean = inspect_upload(upload("icon.png", out.getvalue()))
    with Image.open(io.BytesIO(clean.content)) as cleaned:
        assert (cleaned.mode, cleaned.info) == ("P", {"transparency": 0})


def test_the_exif_orientation_is_applied_before_it_is_dropped():
    # 40 × 20, red on the left, blue on the right; orientation 6: shown turned 90° clockwise.
    image = Image.new("RGB", (40, 20), "blue")
    image.paste((255, 0, 0), (0, 0, 20, 20))
    out = io.BytesIO()
    image.save(out, "JPEG", exif=gps_exif(orientation=6), quality=95)

    clean = inspect_upload(upload("sideways.jpg", out.getvalue()))

    assert (clean.width, clean.height) == (20, 40)
    with Image.open(io.BytesIO(clean.content)) as upright:
        assert upright.size == (20, 40) and dict(upright.getexif()) == {}
        top, bottom = upright.getpixel((10, 5)), upright.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60  # red on top
    assert bottom[2] > 200 and bottom[0] < 60  # blue below


def test_a_jpeg_keeps_its_quality():
    data = noise_jpeg()
    clean = inspect_upload(upload("noise.jpg", data))
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(clean.content)) as after:
        assert after.quantization == before.quantization
    assert 0.9 < len(clean.content) / len(data) < 1.1


def test_whatever_follows_the_image_data_is_not_kept():
    polyglot = jpeg() + HTML
    clean = inspect_upload(upload("photo.jpg", polyglot))
    assert b"<script>" not in clean.content


# --- broken and hostile images -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("half.jpg", noise_jpeg()[: len(noise_jpeg()) // 2]),
        ("half.png", image_bytes("PNG", size=(300, 300))[:120]),
        ("fake.jpg", b"\xff\xd8\xff\xe0" + HTML),
        ("fake.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 30),
        ("bad-crc.png", png_with_bad_crc()),
    ],
)
def test_a_truncated_or_corrupt_image_is_refused(name, data, private_media):
    refused = refusal(upload(name, data))
    assert refused.extra["reason"] == "damaged"
    assert refused.message == f"{name} is damaged or incomplete."
    assert stored_files(private_media) == []


@pytest.mark.parametrize(
    "size",
    [
        (20000, 20000),  # 400 megapixels: Pillow's own bomb check, in Image.open
        (7000, 7000),  # 49 megapixels: above ATTACHMENT_MAX_PIXELS, below Pillow's limits
    ],
)
def test_a_decompression_bomb_is_refused_without_decoding_it(size, monkeypatch, private_media):
    bomb = png_bomb(*size)
    assert len(bomb) < 100_000
    decoded = []
    load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda im: decoded.append(im) or load(im))

    refused = refusal(upload("bomb.png", bomb, "image/png"))

    assert refused.extra["reason"] == "pixels"
    assert refused.message == "bomb.png has too many pixels (more than 40 megapixels)."
    assert decoded == []
    assert stored_files(private_media) == []


def test_the_pixel_limit_is_a_setting(settings):
    settings.ATTACHMENT_MAX_PIXELS = 799
    assert refusal(upload("a.jpg", jpeg(size=(40, 20)))).extra["reason"] == "pixels"
    settings.ATTACHMENT_MAX_PIXELS = 800
    assert inspect_upload(upload("a.jpg", jpeg(size=(40, 20)))).width == 40


# --- size ----------------------------------------------------------------------------------------


class Endless:
    """An upload that never ends and may claim any size: counts what was read from it."""

    def __init__(self, name: str, size: int | None = None):
        self.name, self.size, self.read_bytes = name, size, 0

    def read(self, n: int = -1) -> bytes:
        assert n > 0, "read everything"
        self.read_bytes += n
        return b"\xff\xd8\xff" + b"\x00" * (n - 3) if n > 3 else b"\x00" * n


def test_an_oversize_file_is_refused_by_its_size_before_it_is_read(private_media):
    big = Endless("big.jpg", size=10 * 1024 * 1024 + 1)
    refused = refusal(big)
    assert (refused.extra["reason"], refused.message) == (
        "too_large",
        "big.jpg is larger than 10 MB.",
    )
    assert big.read_bytes == 0
    assert stored_files(private_media) == []


@pytest.mark.parametrize("claimed", [None, 100])
def test_reading_stops_one_byte_past_the_limit_whatever_size_is_claimed(claimed, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024
    endless = Endless("endless.jpg", size=claimed)
    refused = refusal(endless)
    assert refused.message == "endless.jpg is larger than 1 MB."
    assert endless.read_bytes == 1024 * 1024 + 1


def test_a_file_of_exactly_the_limit_is_read_whole(settings):
    data = jpeg()
    settings.ATTACHMENT_MAX_BYTES = len(data)
    assert inspect_upload(upload("a.jpg", data)).mime_type == "image/jpeg"
    settings.ATTACHMENT_MAX_BYTES = len(data) - 1
    assert refusal(upload("a.jpg", data)).extra["reason"] == "too_large"


def test_an_empty_file_is_refused():
    assert refusal(upload("empty.png", b"")).message == "empty.png is empty."


# --- several files -------------------------------------------------------------------------------


def test_several_files_are_checked_together():
    cleaned = inspect_uploads([upload("a.jpg", jpeg()), upload("b.pdf", pdf())])
    assert [(c.name, c.mime_type) for c in cleaned] == [
        ("a.jpg", "image/jpeg"),
        ("b.pdf", "application/pdf"),
    ]
    assert all(isinstance(c, CleanUpload) for c in cleaned)


def test_more_than_the_allowed_number_of_files_is_refused_before_reading_any(private_media):
    files = [Endless(f"{n}.jpg") for n in range(6)]
    with pytest.raises(UploadRefused) as caught:
        inspect_uploads(files)
    assert (caught.value.extra["reason"], caught.value.message) == (
        "too_many",
        "Attach at most 5 files.",
    )
    assert [f.read_bytes for f in files] == [0] * 6


def test_files_larger_together_than_the_total_limit_are_refused(settings):
    data = jpeg()
    settings.ATTACHMENT_MAX_TOTAL_BYTES = 2 * len(data)
    assert len(inspect_uploads([upload("a.jpg", data), upload("b.jpg", data)])) == 2
    settings.ATTACHMENT_MAX_TOTAL_BYTES = 2 * len(data) - 1
    with pytest.raises(UploadRefused) as caught:
        inspect_uploads([upload("a.jpg", data), upload("b.jpg", data)])
    assert caught.value.extra["reason"] == "total_too_large"
    assert caught.value.message.startswith("The attachments together are larger than")


def test_one_hostile_file_refuses_the_upload_and_every_problem_is_named(private_media):
    files = [upload("ok.jpg", jpeg()), upload("evil.png", ELF), upload("page.jpg", HTML)]
    with pytest.raises(UploadRefused) as caught:
        inspect_uploads(files)
    assert caught.value.message == NOT_ALLOWED.format("evil.png")
    assert caught.value.messages == [NOT_ALLOWED.format("evil.png"), NOT_ALLOWED.format("page.jpg")]
    assert stored_files(private_media) == []


# --- PDF -----------------------------------------------------------------------------------------


def test_a_plain_pdf_is_kept_as_uploaded():
    data = pdf(catalog=b"/OpenAction [3 0 R /Fit]")
    clean = inspect_upload(upload("receipt.pdf", data, "application/pdf"))
    assert (clean.mime_type, clean.extension, clean.name) == (
        "application/pdf",
        "pdf",
        "receipt.pdf",
    )
    assert (clean.content, clean.width, clean.height) == (data, None, None)


def test_a_pdf_with_a_harmless_object_stream_is_accepted():
    data = pdf(object_stream(b"5 0 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"))
    assert inspect_upload(upload("receipt.pdf", data)).mime_type == "application/pdf"


@pytest.mark.parametrize(
    "data",
    [
        pdf(b"<< /S /JavaScript /JS (app.alert(1)) >>", catalog=b"/OpenAction 4 0 R"),
        pdf(b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>", catalog=b"/OpenAction 4 0 R"),
        pdf(b"<< /S /Launch /F (cmd.exe) >>", catalog=b"/OpenAction 4 0 R"),
        pdf(b"<< /Type /EmbeddedFile /Length 3 >>\nstream\nabc\nendstream"),
        pdf(b"<< /Fields [] /XFA 5 0 R >>", catalog=b"/AcroForm 4 0 R"),
        pdf(object_stream(b"5 0 << /S /JavaScript /JS (app.alert(1)) >>")),
    ],
    ids=["javascript", "escaped-name", "launch", "embedded-file", "xfa", "in-object-stream"],
)
def test_a_pdf_with_active_content_is_refused(data, private_media):
    refused = refusal(upload("receipt.pdf", data, "application/pdf"))
    assert refused.extra["reason"] == "active_content"
    assert refused.message == (
        "receipt.pdf contains active content (scripts, launch actions or embedded files), "
        "which is not accepted."
    )
    assert stored_files(private_media) == []


def test_an_encrypted_pdf_is_refused():
    refused = refusal(upload("statement.pdf", pdf(trailer=b"/Encrypt 9 0 R")))
    assert (
        refused.message
        == "statement.pdf is password-protected or encrypted, so it cannot be checked."
    )


@pytest.mark.parametrize(
    "data",
    [
        pdf()[:-20],  # cut off before %%EOF
        pdf(object_stream(b"5 0 << /S /JavaScript >>".hex().encode(), filters=b"/Filter /AHx")),
        pdf(object_stream(b"x", filters=b"/Filter /FlateDecode"))[:-80],  # stream never ends
        pdf(
            b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length 9 >>\n"
            b"stream\nnot zlib!\nendstream"
        ),
    ],
    ids=["truncated", "unreadable-filter", "unended-stream", "bad-zlib"],
)
def test_a_pdf_the_tripwire_cannot_read_is_refused(data):
    assert refusal(upload("doc.pdf", data)).extra["reason"] == "damaged"


def test_object_streams_that_unpack_past_the_budget_are_refused(monkeypatch):
    data = pdf(object_stream(b"5 0 << /Type /Font >>" + b" " * 5000))
    monkeypatch.setattr(pdf_check, "OBJECT_STREAM_BUDGET", 4096)
    assert refusal(upload("bomb.pdf", data)).extra["reason"] == "damaged"
    monkeypatch.setattr(pdf_check, "OBJECT_STREAM_BUDGET", 8192)
    assert inspect_upload(upload("fine.pdf", data)).mime_type == "application/pdf"
