"""STORAGES from the environment: the shared filesystem by default, an S3-compatible store with
STORAGE_BACKEND=s3 for both the public and the private storage (deploy/RUNBOOK.md, "Scaling
out"). The private one is never public-read and has no URL, signed or not. No network: the
storages are built, and an upload is stubbed at the S3 client."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.stub import ANY, Stubber
from django.core.exceptions import ImproperlyConfigured

from apps.core.private_files import NoPublicUrl
from apps.core.private_s3 import PrivateS3Storage

ROOT = Path(__file__).resolve().parents[2]
S3_ENV = {
    "STORAGE_BACKEND": "s3",
    "AWS_STORAGE_BUCKET_NAME": "clientele-media",
    "AWS_PRIVATE_STORAGE_BUCKET_NAME": "clientele-private",
    "AWS_S3_ENDPOINT_URL": "http://minio.internal:9000",
    "AWS_S3_REGION_NAME": "cn-east-1",
    "AWS_S3_ADDRESSING_STYLE": "path",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret-example",
}


def settings_storages(**env: str) -> subprocess.CompletedProcess:
    """STORAGES as config.settings.test computes it from ``env`` (a fresh process: settings are
    read once)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STORAGE_"))}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, config.settings.test as s; print(json.dumps(s.STORAGES))",
        ],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def s3_storages() -> dict:
    done = settings_storages(**S3_ENV)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_default_is_the_local_filesystem_with_the_private_storage_apart():
    done = settings_storages()
    assert done.returncode == 0, done.stderr
    storages = json.loads(done.stdout)
    assert storages["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert storages["private"]["BACKEND"] == "apps.core.private_files.PrivateStorage"


def test_s3_configures_both_storages_from_the_environment(s3_storages):
    default, private = s3_storages["default"], s3_storages["private"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    assert private["BACKEND"] == "apps.core.private_s3.PrivateS3Storage"
    for options in (default["OPTIONS"], private["OPTIONS"]):
        assert options["endpoint_url"] == "http://minio.internal:9000"
        assert options["region_name"] == "cn-east-1"
        assert options["addressing_style"] == "path"
        assert (options["access_key"], options["secret_key"]) == ("AKIDEXAMPLE", "secret-example")
        assert options["file_overwrite"] is False
    assert default["OPTIONS"]["bucket_name"] == "clientele-media"
    assert private["OPTIONS"]["bucket_name"] == "clientele-private"
    # Public media are linked without signatures; the private storage sets no ACL override.
    assert default["OPTIONS"]["querystring_auth"] is False
    assert "default_acl" not in private["OPTIONS"]


def test_unset_keys_leave_boto3_to_find_credentials_itself():
    env = {k: v for k, v in S3_ENV.items() if not k.startswith("AWS_ACCESS") and "SECRET" not in k}
    done = settings_storages(**env)
    assert done.returncode == 0, done.stderr
    options = json.loads(done.stdout)["private"]["OPTIONS"]
    assert (options["access_key"], options["secret_key"]) == (None, None)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (S3_ENV | {"AWS_PRIVATE_STORAGE_BUCKET_NAME": "clientele-media"}, "a bucket of its own"),
        (
            {k: v for k, v in S3_ENV.items() if k != "AWS_PRIVATE_STORAGE_BUCKET_NAME"},
            "AWS_PRIVATE_STORAGE_BUCKET_NAME",
        ),
        ({"STORAGE_BACKEND": "nfs"}, "STORAGE_BACKEND must be 'filesystem' or 's3'"),
    ],
)
def test_a_wrong_storage_configuration_refuses_to_start(env, message):
    done = settings_storages(**env)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and message in done.stderr


def test_private_objects_are_written_private_and_have_no_url(s3_storages):
    storage = PrivateS3Storage(**s3_storages["private"]["OPTIONS"])
    client = storage.connection.meta.client
    assert client.meta.endpoint_url == "http://minio.internal:9000"
    with pytest.raises(NoPublicUrl):
        storage.url("complaints/2026/12/a.pdf")
    with Stubber(client) as stub:
        # file_overwrite is off: the storage first asks whether the name is taken.
        stub.add_client_error(
            "head_object",
            service_error_code="404",
            http_status_code=404,
            expected_params={"Bucket": "clientele-private", "Key": "complaints/2026/12/a.pdf"},
        )
        stub.add_response(
            "put_object",
            {"ETag": '"0"'},
            {
                "Bucket": "clientele-private",
                "Key": "complaints/2026/12/a.pdf",
                "Body": ANY,
                "ACL": "private",
                "ContentType": "application/pdf",
                "ChecksumAlgorithm": ANY,
            },
        )
        name = storage.save("complaints/2026/12/a.pdf", io.BytesIO(b"%PDF-1.7 private"))
        stub.assert_no_pending_responses()
    assert name == "complaints/2026/12/a.pdf"


def test_the_private_storage_cannot_be_made_public(s3_storages):
    options = s3_storages["private"]["OPTIONS"]
    with pytest.raises(ImproperlyConfigured):
        PrivateS3Storage(**options, default_acl="public-read")
    with pytest.raises(ImproperlyConfigured):
        PrivateS3Storage(**options, custom_domain="files.example.com")


def test_public_media_get_plain_urls_on_the_store(s3_storages):
    from storages.backends.s3 import S3Storage

    storage = S3Storage(**s3_storages["default"]["OPTIONS"])
    assert (
        storage.url("rewards/mug.png")
        == "http://minio.internal:9000/clientele-media/rewards/mug.png"
    )
