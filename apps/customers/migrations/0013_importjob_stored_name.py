"""ImportJob.stored_path holds a name in the private storage (``imports/<job><ext>``), no longer
an absolute path: the worker reading the upload may run on another machine (S3). An absolute
path under PRIVATE_MEDIA_ROOT becomes the name relative to it (the same file for the filesystem
storage); any other value is left as it is."""

from pathlib import Path, PurePath

from django.conf import settings
from django.db import migrations


def _roots() -> list[PurePath]:
    """PRIVATE_MEDIA_ROOT as configured (how the paths were built) and with symlinks resolved."""
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    resolved = root.resolve()
    return [root] if resolved == root else [root, resolved]


def storage_name(stored: str, roots: list[PurePath]) -> str:
    """``stored`` relative to the first of ``roots`` it is under, as a storage name."""
    path = PurePath(stored)
    if not path.is_absolute():
        return stored
    for root in roots:
        if path.is_relative_to(root) and path != root:
            return path.relative_to(root).as_posix()
    return stored


def to_storage_names(apps, schema_editor):
    ImportJob = apps.get_model("customers", "ImportJob")
    roots = _roots()
    for pk, stored in ImportJob.objects.exclude(stored_path="").values_list("pk", "stored_path"):
        name = storage_name(stored, roots)
        if name != stored:
            ImportJob.objects.filter(pk=pk, stored_path=stored).update(stored_path=name)


def to_absolute_paths(apps, schema_editor):
    ImportJob = apps.get_model("customers", "ImportJob")
    root = PurePath(settings.PRIVATE_MEDIA_ROOT)
    for pk, stored in ImportJob.objects.exclude(stored_path="").values_list("pk", "stored_path"):
        if not PurePath(stored).is_absolute():
            path = str(root / stored)
            ImportJob.objects.filter(pk=pk, stored_path=stored).update(stored_path=path)


class Migration(migrations.Migration):
    dependencies = [("customers", "0012_alter_interaction_kind")]
    operations = [migrations.RunPython(to_storage_names, to_absolute_paths)]
