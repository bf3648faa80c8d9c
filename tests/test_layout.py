"""The source layout's promises: imports in src/ run one way, no file grows past its
limit, every Python name the extension imports exists, and the README's layout table is
what the modules say of themselves."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from natsrs import _natsrs

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
MAX_LINES = 800


def _module_name(path: Path) -> str:
    """``client`` for src/client.rs, ``jetstream`` for src/jetstream/mod.rs and
    ``jetstream::ack`` for src/jetstream/ack.rs."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "mod":
        parts.pop()
    return "::".join(parts)


def _modules() -> dict[str, set[str]]:
    """Each src module (rooms' files included) and the modules it names as
    ``crate::module`` or ``crate::room::module``."""
    paths = sorted(SRC.rglob("*.rs"))
    names = {_module_name(p) for p in paths}

    def module_of(reference: str) -> str | None:
        parts = reference.split("::")
        for end in range(len(parts), 0, -1):
            if (candidate := "::".join(parts[:end])) in names:
                return candidate
        return None

    uses: dict[str, set[str]] = {}
    for path in paths:
        text = path.read_text()
        references = set(re.findall(r"crate::(\w+(?:::\w+)*)", text))
        # `use crate::{a, b::C}` groups name modules too.
        for group in re.findall(r"use crate::\{([^}]*)\}", text):
            references |= {item.strip() for item in group.split(",")}
        name = _module_name(path)
        found = {module_of(r) for r in references} - {None, name}
        uses[name] = {m for m in found if m is not None}
    return uses


def test_src_modules_import_each_other_in_one_direction() -> None:
    uses = _modules()
    assert "client" in uses["connect"]  # the reading works at all
    assert "jetstream::ack" in uses["message"]
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for used in sorted(uses[module]):
            if state.get(used) == "open":
                cycle = [*path[path.index(used) :], used]
                pytest.fail("import circle in src/: " + " -> ".join(cycle))
            if used not in state:
                visit(used, [*path, used])
        state[module] = "done"

    for module in sorted(uses):
        if module not in state:
            visit(module, [module])


def test_no_source_file_is_over_the_line_limit() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.rs")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize(("module", "attribute"), _natsrs._imported_names())
def test_every_python_name_the_extension_imports_exists(module: str, attribute: str) -> None:
    assert hasattr(importlib.import_module(module), attribute)


def test_the_table_of_imported_names_covers_the_extension() -> None:
    """Every Python module path the Rust code spells is one of the table's."""
    table = {module for module, _ in _natsrs._imported_names()}
    spelled: set[str] = set()
    for path in SRC.rglob("*.rs"):
        spelled |= set(re.findall(r'"(natsrs(?:\.\w+)+)"', path.read_text()))
    # Class names the extension declares for its own types are not imports.
    spelled = {m for m in spelled if m != "natsrs._natsrs"}
    assert spelled <= table


def test_readme_layout_table_is_what_the_modules_say() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "layout.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
