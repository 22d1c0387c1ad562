"""The web and worker tiers keep no local files (deploy/RUNBOOK.md, "Scaling out"): a file they
write goes through Django's storage API (shared filesystem or S3), or is a temporary file that
dies with the request or task. This finds every direct filesystem write in apps/ outside
management commands (the operator's CLI, which writes where it is told) and migrations; each one
left must be listed here with the reason it is safe on several machines."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WRITING_METHODS = {"write_text", "write_bytes", "mkdir", "touch", "makedirs", "mkdtemp"}
WRITE_MODES = set("wax+")
ALLOWED = {
    # Inside a tempfile.TemporaryDirectory of the request: gone when the export is answered.
    ("apps/surveys/staff_selectors.py", "write_bytes"),
}


def filesystem_writes(path: Path, root: Path = ROOT) -> set[tuple[str, str]]:
    found = set()
    name = str(path.relative_to(root))
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open":
            mode = node.args[1] if len(node.args) > 1 else None
            mode = mode or next((k.value for k in node.keywords if k.arg == "mode"), None)
            if isinstance(mode, ast.Constant) and set(str(mode.value)) & WRITE_MODES:
                found.add((name, "open"))
        elif isinstance(func, ast.Attribute) and func.attr in WRITING_METHODS:
            found.add((name, func.attr))
    return found


def test_web_and_worker_code_writes_files_only_through_storages_or_temporary_files():
    found = set()
    for path in (ROOT / "apps").rglob("*.py"):
        if {"migrations", "management"} & set(path.parts):
            continue
        found |= filesystem_writes(path)
    assert found == ALLOWED


def test_the_scan_sees_a_direct_write(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from pathlib import Path\n"
        "def keep(data):\n"
        "    with open('/srv/out.csv', 'w') as fh:\n"
        "        fh.write(data)\n"
        "    Path('/srv/x').write_bytes(b'')\n"
        "    open('/srv/in.csv').read()\n",
        encoding="utf-8",
    )
    assert filesystem_writes(sample, tmp_path) == {
        ("sample.py", "open"),
        ("sample.py", "write_bytes"),
    }
