"""Corpora present on every machine with Python, for demos and smoke runs (no download)."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from rnnkit.errors import DataError


def python_stdlib_text(max_chars: int = 1_500_000) -> str:
    """The Python standard library's own ``.py`` sources, in sorted path order, up to ``max_chars``.

    Top-level modules and packages only; test suites, ``site-packages`` and files that are
    not UTF-8 are skipped. Deterministic for a given Python installation.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "test", "tests", "idlelib", "lib2to3", "__pycache__", "turtledemo"}
    parts, total = [], 0
    for path in sorted(root.rglob("*.py")):
        if skip.intersection(path.relative_to(root).parts):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if not text.isascii():  # keep the demo's vocabulary small and printable
            continue
        parts.append(text)
        total += len(text)
        if total >= max_chars:
            break
    if not parts:
        raise DataError(f"no Python sources found under {root}")
    return "\n".join(parts)[:max_chars]
