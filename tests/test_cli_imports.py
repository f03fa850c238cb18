"""The CLI stands on the public API only: ``rnnkit``, ``rnnkit.tasks`` (with its ``io``,
``inspect`` and ``runs`` faces), ``rnnkit.serving`` (the server, a sibling face),
``rnnkit.errors`` and its own ``cli`` package. Logic below
that belongs in the library, where the Python API reaches it too."""

import ast
from pathlib import Path

import rnnkit.cli

ALLOWED = ("rnnkit", "rnnkit._version", "rnnkit.errors", "rnnkit.tasks", "rnnkit.serving", "rnnkit.cli")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n == "rnnkit" or n.startswith("rnnkit.")}


def test_cli_imports_only_the_public_api():
    cli_dir = Path(rnnkit.cli.__file__).parent
    bad = {}
    for path in sorted(cli_dir.glob("*.py")):
        below = sorted(m for m in imported_modules(path)
                       if not any(m == a or m.startswith(a + ".") for a in ALLOWED if a != "rnnkit")
                       and m != "rnnkit")
        if below:
            bad[path.name] = below
    assert not bad, f"CLI modules import below the public API: {bad}"
