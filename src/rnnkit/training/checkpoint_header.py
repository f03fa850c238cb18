"""A checkpoint's header without its weights (and without torch): what ``rnnkit info`` and
the loaders' task check read.

Layout (safetensors): an 8-byte little-endian header length, then a JSON header holding
each tensor's dtype, shape and offsets, and a ``__metadata__`` string map where rnnkit
keeps its format, version and JSON metadata.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

FORMAT = "rnnkit"
FORMAT_VERSION = "1"
MAX_HEADER = 100_000_000  # bytes; safetensors itself refuses larger headers


def header_bytes(path: Path) -> bytes:
    """The length prefix and JSON header of a safetensors file."""
    with path.open("rb") as f:
        head = f.read(8)
        size = int.from_bytes(head, "little") if len(head) == 8 else 0
        if size > min(path.stat().st_size - 8, MAX_HEADER):
            raise ValueError(f"header of {size:,} bytes does not fit the file")
        return head + f.read(size)


def parse_header(data: bytes) -> dict[str, Any]:
    if len(data) < 8:
        raise ValueError("file too short")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError("header longer than file")
    return json.loads(data[8:8 + n].decode("utf-8"))


def read_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` string map of a header."""
    return parse_header(data).get("__metadata__", {}) or {}


def read_header(path: str | Path) -> tuple[dict[str, Any], dict[str, int]]:
    """``(rnnkit metadata, {tensor name: element count})`` of an rnnkit checkpoint, reading
    only its header; ``ValueError`` when it is not one (the full loader then says why)."""
    header = parse_header(header_bytes(Path(path)))
    meta = header.get("__metadata__") or {}
    if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
        raise ValueError("not an rnnkit checkpoint of this version")
    sizes = {k: math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__"}
    return json.loads(meta["meta"]), sizes


__all__ = ["read_header", "read_metadata", "header_bytes", "parse_header", "FORMAT", "FORMAT_VERSION", "MAX_HEADER"]
