"""The shape DESIGN §2 and STYLE.md ask for, held by tests where import-linter cannot see:
modules that say what they hold (none over 600 lines), and no import inside a function (an
import placed there to dodge a cycle means a function lives in the wrong module). The one
place for deferred imports is ``AppConfig.ready()``, where an app wires itself."""

import ast
from pathlib import Path

from django.conf import settings

APPS = Path(settings.BASE_DIR) / "apps"
MAX_LINES = 600


def _modules():
    return sorted(p for p in APPS.rglob("*.py") if "migrations" not in p.parts)


def test_no_app_module_is_over_600_lines():
    long = {
        str(p.relative_to(APPS)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def _imports_in_functions(path: Path) -> list[str]:
    found: list[str] = []

    class Finder(ast.NodeVisitor):
        def __init__(self) -> None:
            self.scope: list[str] = []

        def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
            self.scope.append(node.name)
            self.generic_visit(node)
            self.scope.pop()

        visit_AsyncFunctionDef = visit_FunctionDef

        def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
            in_ready = path.name == "apps.py" and self.scope == ["ready"]
            if self.scope and not in_ready:
                found.append(f"{path.relative_to(APPS)}:{node.lineno} {ast.unparse(node)}")

        visit_ImportFrom = visit_Import

    Finder().visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def test_no_import_inside_a_function_outside_app_ready():
    found = [hit for path in _modules() for hit in _imports_in_functions(path)]
    assert found == []
