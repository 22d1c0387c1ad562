"""Compile locale/*/LC_MESSAGES/*.po to .mo with polib (no system gettext needed).

``--check`` fails when a catalogue has untranslated or fuzzy entries, and — where GNU gettext
is installed (CI) — when the sources hold translatable strings the catalogue does not have yet
(or the catalogue keeps strings the sources no longer use): it runs ``makemessages`` on a
temporary copy of the sources and compares. Fix with ``make messages``, then translate."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["apps", "config", "templates", "locale", "manage.py"]


def _ids(po: polib.POFile) -> set[tuple[str | None, str]]:
    return {(e.msgctxt, e.msgid) for e in po if not e.obsolete}


def _stale(po_path: Path) -> list[str]:
    """Differences between the catalogue and what makemessages extracts from the sources now."""
    if shutil.which("xgettext") is None:
        print("note: GNU gettext not installed; catalogue freshness not checked", file=sys.stderr)
        return []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SOURCES:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, Path(tmp) / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, Path(tmp) / name)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
        lang = po_path.parent.parent.name
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", lang, "--no-obsolete", "-v", "0"],
            cwd=tmp,
            env=env,
            check=True,
        )
        fresh = _ids(polib.pofile(str(Path(tmp) / po_path.relative_to(ROOT))))
    have = _ids(polib.pofile(str(po_path)))
    rel = po_path.relative_to(ROOT)
    return [f"{rel}: not in the catalogue (run make messages): {m!r}" for _c, m in fresh - have][
        :20
    ] + [f"{rel}: no longer in the sources: {m!r}" for _c, m in have - fresh][:20]


def main(check: bool) -> int:
    problems = []
    for po_path in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        po = polib.pofile(str(po_path))
        if check:
            untranslated = [e.msgid for e in po.untranslated_entries() if not e.obsolete]
            fuzzy = [e.msgid for e in po.fuzzy_entries()]
            for msgid in untranslated[:20]:
                problems.append(f"{po_path.relative_to(ROOT)}: untranslated: {msgid!r}")
            for msgid in fuzzy[:20]:
                problems.append(f"{po_path.relative_to(ROOT)}: fuzzy: {msgid!r}")
            problems += _stale(po_path)
        else:
            po.save_as_mofile(str(po_path.with_suffix(".mo")))
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv))
