"""Where the wiring is, read from the source: which functions publish each domain event, and
which calls register subscribers or providers. ``manage.py events`` prints it; tests use it to
prove that only known events are published and that wiring happens in ``AppConfig.ready()``."""

import ast
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

WIRING_CALLS = {
    ("events", "subscribe"),
    ("timeline", "register"),
    ("privacy", "register"),
    ("demo", "register"),
}


@dataclass(frozen=True)
class Call:
    module: str  # dotted module path
    function: str  # enclosing function (Class.method), or "<module>"
    line: int
    name: str  # the event name (publish) or "" (wiring calls)
    kind: tuple[str, str]  # (object, attribute), e.g. ("events", "publish")


def _source_files() -> list[Path]:
    root = Path(settings.BASE_DIR) / "apps"
    return sorted(p for p in root.rglob("*.py") if "migrations" not in p.parts)


def _module_name(path: Path) -> str:
    rel = path.relative_to(Path(settings.BASE_DIR)).with_suffix("")
    return ".".join(rel.parts)


class _Finder(ast.NodeVisitor):
    def __init__(self, module: str, wanted: set[tuple[str, str]]) -> None:
        self.module, self.wanted, self.scope, self.found = module, wanted, [], []

    def _scoped(self, node: ast.AST) -> None:
        self.scope.append(node.name)  # type: ignore[attr-defined]
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            kind = (func.value.id, func.attr)
            if kind in self.wanted:
                first = node.args[0] if node.args else None
                name = first.value if isinstance(first, ast.Constant) else ""
                self.found.append(
                    Call(
                        module=self.module,
                        function=".".join(self.scope) or "<module>",
                        line=node.lineno,
                        name=name if isinstance(name, str) else "",
                        kind=kind,
                    )
                )
        self.generic_visit(node)


def calls(wanted: set[tuple[str, str]]) -> list[Call]:
    found: list[Call] = []
    for path in _source_files():
        finder = _Finder(_module_name(path), wanted)
        finder.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found.extend(finder.found)
    return found


def publishers() -> dict[str, list[Call]]:
    """Event name -> the places that publish it (``events.publish("name", ...)``, or
    ``events.publish_many``)."""
    out: dict[str, list[Call]] = {}
    for call in calls({("events", "publish"), ("events", "publish_many")}):
        out.setdefault(call.name, []).append(call)
    return out


def wiring_calls() -> list[Call]:
    """Every call that registers a subscriber or a provider."""
    return calls(WIRING_CALLS)
