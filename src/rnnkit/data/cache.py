"""The cache of encoded corpora (token ids as memory-mapped ``.npy`` files, and the text
columns extracted from tables for language models), and its bounds.

Location: ``$RNNKIT_CACHE``, else ``$XDG_CACHE_HOME/rnnkit``, else ``~/.cache/rnnkit``.
Size: at most ``$RNNKIT_CACHE_LIMIT`` (bytes, or with a K/M/G suffix; default 5G). After each
new entry the least recently used ones beyond the limit are deleted (never the newest).
``rnnkit cache info`` shows it, ``rnnkit cache clear`` empties it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rnnkit.errors import ConfigError

DEFAULT_LIMIT = 5 * 1024**3
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def cache_dir() -> Path:
    """``$RNNKIT_CACHE``, else ``$XDG_CACHE_HOME/rnnkit``, else ``~/.cache/rnnkit``."""
    if os.environ.get("RNNKIT_CACHE"):
        return Path(os.environ["RNNKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnkit"


def cache_limit() -> int:
    """The size bound in bytes, from ``$RNNKIT_CACHE_LIMIT``."""
    text = os.environ.get("RNNKIT_CACHE_LIMIT", "").strip().upper().removesuffix("B")
    if not text:
        return DEFAULT_LIMIT
    unit = text[-1] if text[-1] in _UNITS else ""
    try:
        return int(float(text[: len(text) - len(unit)]) * _UNITS[unit])
    except ValueError:
        raise ConfigError(f"RNNKIT_CACHE_LIMIT must be a size such as 500M or 5G, got {text!r}") from None


def cache_entries() -> list[Path]:
    """Cached files, least recently used first."""
    files = [p for folder, pattern in (("token-ids", "*.npy"), ("text-columns", "*.txt"))
             for p in (cache_dir() / folder).glob(pattern) if p.is_file()]
    return sorted(files, key=lambda p: p.stat().st_atime)


def cache_size() -> int:
    return sum(p.stat().st_size for p in cache_entries())


def evict(keep: Path | None = None) -> list[Path]:
    """Delete least recently used entries until the cache fits its limit; ``keep`` stays."""
    limit, removed = cache_limit(), []
    entries = cache_entries()
    total = sum(p.stat().st_size for p in entries)
    for p in entries:
        if total <= limit:
            break
        if keep is not None and p.resolve() == Path(keep).resolve():
            continue
        total -= p.stat().st_size
        p.unlink(missing_ok=True)  # a run that mapped it keeps its pages until it ends
        removed.append(p)
    return removed


def cached_ids(digest: str, write: Callable[[BinaryIO], None]) -> np.ndarray:
    """The ``.npy`` array cached under ``digest`` (a content hash), memory-mapped read-only;
    if absent, ``write(file)`` writes it first, to a temporary file renamed into place (so
    concurrent runs never see half of one), and the cache is trimmed to its limit."""
    target = cache_dir() / "token-ids" / f"{digest}.npy"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:  # plain writes, not a writable map: no pages stay resident
                write(f)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, target)
        evict(keep=target)
    return np.load(target, mmap_mode="r")


def write_npy_header(f: BinaryIO, dtype: np.dtype, length: int) -> None:
    """The header of a 1-D ``.npy`` array of ``length`` items, whose data the caller writes."""
    np.lib.format.write_array_header_1_0(f, {"descr": np.dtype(dtype).newbyteorder("<").str,
                                             "fortran_order": False, "shape": (length,)})


def clear_cache() -> tuple[int, int]:
    """Delete every cached entry; returns ``(files, bytes)`` removed."""
    entries = cache_entries()
    size = sum(p.stat().st_size for p in entries)
    for p in entries:
        p.unlink(missing_ok=True)
    return len(entries), size


__all__ = ["cache_dir", "cache_limit", "cache_entries", "cache_size", "evict", "clear_cache", "cached_ids",
           "write_npy_header"]
