"""Private files (apps.core.private_files): no URL ever, random names under PRIVATE_MEDIA_ROOT,
served as sandboxed downloads; the attachments form field (apps.core.forms.AttachmentsField)."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from csp.middleware import CSPMiddleware
from django import forms
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.middleware.security import SecurityMiddleware
from django.test import RequestFactory
from django.utils.datastructures import MultiValueDict

from apps.core.forms import AttachmentsField
from apps.core.private_files import (
    NoPublicUrl,
    PrivateStorage,
    private_file_response,
    private_root_check,
    store_private,
)
from apps.core.uploads import CleanUpload, inspect_upload
from tests.core.test_uploads import ELF, jpeg, pdf, stored_files, upload

ROOT = Path(__file__).resolve().parents[2]
CHINESE_NAME = "投诉 照片.jpg"
CHINESE_DISPOSITION = (
    "attachment; filename=\"attachment.jpg\"; filename*=UTF-8''"
    "%E6%8A%95%E8%AF%89%20%E7%85%A7%E7%89%87.jpg"
)


@pytest.fixture
def photo() -> CleanUpload:
    return inspect_upload(upload("photo.jpg", jpeg()))


# --- the storage ---------------------------------------------------------------------------------


def test_the_private_storage_is_rooted_at_private_media_root(private_media, settings):
    storage = storages["private"]
    assert isinstance(storage, PrivateStorage)
    assert Path(storage.location) == private_media.resolve()
    assert Path(settings.MEDIA_ROOT).resolve() not in Path(storage.location).parents


def test_a_private_file_never_has_a_url(private_media, photo):
    name = store_private(photo, prefix="complaints")
    with pytest.raises(NoPublicUrl):
        storages["private"].url(name)
    with pytest.raises(NoPublicUrl):
        PrivateStorage(location=private_media).url("anything.jpg")


def test_a_stored_file_gets_a_random_name_under_its_prefix(private_media, photo):
    first = store_private(photo, prefix="complaints/tickets")
    second = store_private(photo, prefix="complaints/tickets")

    pattern = r"complaints/tickets/\d{4}/\d{2}/[0-9a-f]{32}\.jpg"
    assert re.fullmatch(pattern, first) and re.fullmatch(pattern, second)
    assert first != second and "photo" not in first
    path = private_media / first
    assert path.read_bytes() == photo.content
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o750
    assert len(stored_files(private_media)) == 2


@pytest.mark.parametrize("prefix", ["", "../etc", "/abs", "Complaints", "a//b", "a/./b", "x y"])
def test_a_prefix_is_lowercase_path_parts_only(prefix, private_media, photo):
    with pytest.raises(ValueError, match="prefix"):
        store_private(photo, prefix=prefix)
    assert stored_files(private_media) == []


def test_private_media_root_may_not_overlap_a_public_directory(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    assert private_root_check() == []
    for private in (tmp_path / "media" / "private", tmp_path, settings.STATIC_ROOT):
        settings.PRIVATE_MEDIA_ROOT = private
        assert [e.id for e in private_root_check()] == ["core.E001"]


def test_production_settings_keep_the_private_storage():
    keys = {
        "DJANGO_SECRET_KEY": "k3y-Q" * 12,
        "LEDGER_KEY": "L3dg3r-k3y-" * 4,
        "ERASURE_DIGEST_KEY": "Er4se-k3y-" * 4,
        "EMAIL_URL": "smtp+tls://user:pass@smtp.example.com:587",
    }
    code = "from config.settings import prod; print(sorted(prod.STORAGES.items()))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **keys},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "'private', {'BACKEND': 'apps.core.private_files.PrivateStorage'}" in result.stdout
    assert "CompressedManifestStaticFilesStorage" in result.stdout


# --- the download response -----------------------------------------------------------------------


def test_a_private_file_is_served_as_a_sandboxed_download(private_media, photo):
    name = store_private(photo, prefix="complaints")

    response = private_file_response(name, download_name=CHINESE_NAME, content_type="image/jpeg")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == photo.content
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Length"] == str(photo.size)
    assert response["Content-Disposition"] == CHINESE_DISPOSITION
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    response.close()


def test_the_site_middleware_keeps_the_download_headers(private_media, photo, settings):
    name = store_private(photo, prefix="complaints")

    def view(request):
        return private_file_response(name, download_name="a.jpg", content_type="image/jpeg")

    response = SecurityMiddleware(CSPMiddleware(view))(RequestFactory().get("/me/complaints/x/"))

    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    response.close()


@pytest.mark.parametrize(
    ("download_name", "content_type", "disposition", "served_as"),
    [
        (
            "receipt.pdf",
            "application/pdf",
            "attachment; filename=\"receipt.pdf\"; filename*=UTF-8''receipt.pdf",
            "application/pdf",
        ),
        (
            'evil"\r\nSet-Cookie: x=1;.html',
            "text/html",
            'attachment; filename="evil_ Set-Cookie_ x=1_.html"; '
            "filename*=UTF-8''evil_%20Set-Cookie_%20x%3D1_.html",
            "application/octet-stream",
        ),
        (
            "照片.png",
            "image/jpeg",
            "attachment; filename=\"attachment.jpg\"; filename*=UTF-8''%E7%85%A7%E7%89%87.jpg",
            "image/jpeg",
        ),
    ],
)
def test_the_download_name_and_type_are_made_safe(
    download_name, content_type, disposition, served_as, private_media, photo
):
    name = store_private(photo, prefix="complaints")
    response = private_file_response(name, download_name=download_name, content_type=content_type)
    assert response["Content-Disposition"] == disposition
    assert response["Content-Type"] == served_as
    response.close()


def test_a_missing_private_file_is_not_found(private_media):
    with pytest.raises(Http404):
        private_file_response(
            "complaints/2026/01/nothing.jpg", download_name="a.jpg", content_type="image/jpeg"
        )


def test_a_name_outside_the_private_root_is_refused(private_media):
    with pytest.raises(Exception, match="outside"):
        private_file_response("../../etc/passwd", download_name="a", content_type="image/jpeg")


# --- the form field ------------------------------------------------------------------------------


class AttachForm(forms.Form):
    attachments = AttachmentsField()


class RequiredAttachForm(forms.Form):
    attachments = AttachmentsField(required=True)


def bound(form_class, *files):
    return form_class(data={}, files=MultiValueDict({"attachments": list(files)}))


def test_the_field_cleans_to_checked_uploads():
    form = bound(AttachForm, upload("a.jpg", jpeg()), upload("b.pdf", pdf()))
    assert form.is_valid(), form.errors
    assert [(c.name, c.mime_type) for c in form.cleaned_data["attachments"]] == [
        ("a.jpg", "image/jpeg"),
        ("b.pdf", "application/pdf"),
    ]


def test_an_optional_field_without_files_is_an_empty_list():
    form = bound(AttachForm)
    assert form.is_valid() and form.cleaned_data["attachments"] == []


def test_a_required_field_wants_a_file():
    form = bound(RequiredAttachForm)
    assert form.errors["attachments"] == ["This field is required."]


def test_a_refused_upload_is_a_field_error_naming_each_file(private_media):
    form = bound(
        AttachForm,
        upload("ok.jpg", jpeg()),
        upload("evil.png", ELF),
        upload("run.jpg", b"MZ\x90\x00"),
    )
    assert not form.is_valid()
    assert form.errors["attachments"] == [
        "evil.png is not a JPEG, PNG, WebP image or PDF.",
        "run.jpg is not a JPEG, PNG, WebP image or PDF.",
    ]
    assert form.errors.as_data()["attachments"][0].code == "upload_refused"
    assert stored_files(private_media) == []


def test_too_many_files_is_a_field_error():
    form = bound(AttachForm, *[upload(f"{n}.jpg", jpeg()) for n in range(6)])
    assert form.errors["attachments"] == ["Attach at most 5 files."]


def test_the_widget_takes_several_files_and_hints_the_types():
    html = str(AttachForm()["attachments"])
    assert 'type="file"' in html and "multiple" in html
    assert 'accept="image/jpeg,image/png,image/webp,application/pdf,' in html
    assert AttachForm().is_multipart()


def test_an_uploaded_file_is_taken_as_its_content_says(private_media):
    fake = SimpleUploadedFile("photo.jpg", b"<html><script>alert(1)</script>", "image/jpeg")
    form = bound(AttachForm, fake)
    assert form.errors["attachments"] == ["photo.jpg is not a JPEG, PNG, WebP image or PDF."]
