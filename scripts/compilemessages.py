"""Compile locale/*/LC_MESSAGES/*.po to .mo with polib (no system gettext needed).

``--check`` fails when a catalogue has untranslated or fuzzy entries."""

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


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
        else:
            po.save_as_mofile(str(po_path.with_suffix(".mo")))
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv))
