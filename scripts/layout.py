"""The README's layout table, made from each module's own first doc paragraph.

``python scripts/layout.py`` prints the table; ``--write`` puts it into README.md between
its layout markers; ``--check`` exits 1 when README.md's table is not what the modules
say (``tests/test_layout.py`` runs it), so the table cannot drift from the code.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- layout: made by scripts/layout.py from each module's first doc paragraph -->"
END = "<!-- layout end -->"


def _first_paragraph(lines: list[str]) -> str:
    paragraph: list[str] = []
    for line in lines:
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    return " ".join(paragraph)


def rust_summary(path: Path) -> str:
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("//!"):
            break
        lines.append(line[3:])
    return _first_paragraph(lines)


def python_summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return _first_paragraph(doc.splitlines())


def rows() -> list[tuple[str, str]]:
    found = [(p, rust_summary(p)) for p in sorted((ROOT / "src").rglob("*.rs"))]
    package = ROOT / "python" / "natsrs"
    found += [(p, python_summary(p)) for p in sorted(package.rglob("*.py"))]
    return [(str(p.relative_to(ROOT)), text) for p, text in found]


def table() -> str:
    lines = ["| file | what it owns |", "|---|---|"]
    for path, text in rows():
        if not text:
            raise SystemExit(f"{path} has no first doc paragraph")
        cell = text.replace("|", "\\|")
        lines.append(f"| `{path}` | {cell} |")
    return "\n".join(lines)


def readme_with(text: str) -> str:
    readme = (ROOT / "README.md").read_text()
    pattern = re.compile(re.escape(BEGIN) + r"\n(?:.*?\n)?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise SystemExit("README.md has no layout markers")
    return pattern.sub(lambda _: f"{BEGIN}\n{text}\n{END}", readme)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        readme = (ROOT / "README.md").read_text()
        if readme_with(table()) != readme:
            print("README.md's layout table differs: run python scripts/layout.py --write")
            return 1
        return 0
    if "--write" in argv:
        (ROOT / "README.md").write_text(readme_with(table()))
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
