"""The import arrows of ARCHITECTURE.md, checked: a rule that leaks into the wrong room fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "src" / "voltbridge"

# room -> rooms of ours it may import (besides itself). `config`, `app`, `cli` may import anything.
ALLOWED: dict[str, set[str]] = {
    "core": {"store", "bus"},
    "store": set(),
    "bus": set(),
    "ocpp": {"core", "bus"},
    "proxy": {"core", "store", "bus", "ocpp"},
    "smart": {"core", "bus", "store"},
    "billing": {"core", "store", "bus"},
    "ocpi": {"core", "billing", "bus", "store"},
    "api": {"core", "billing", "bus", "store", "proxy", "ocpi"},
    "web": {"api", "core", "billing", "store"},
    "sim": set(),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _rooms_imported(path: Path) -> set[str]:
    return {
        name.split(".")[1]
        for name in _imports(path)
        if name.startswith("voltbridge.") and name.count(".") >= 1
    }


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_room_imports_only_what_architecture_allows(room: str) -> None:
    leaks = []
    for path in sorted((PACKAGE / room).rglob("*.py")):
        for other in _rooms_imported(path) - ALLOWED[room] - {room}:
            leaks.append(f"{path.relative_to(PACKAGE)} imports voltbridge.{other}")
    assert not leaks, "import arrows broken:\n" + "\n".join(leaks)


def test_core_does_not_import_web_frameworks() -> None:
    banned = ("fastapi", "starlette", "websockets", "uvicorn")
    offenders = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted((PACKAGE / "core").rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in banned
    ]
    assert not offenders, offenders
