"""A short content hash of training data, so a resumed run can tell it is given other data.

:func:`fingerprint` walks arrays, tensors, numbers, strings and the containers and plain
objects (batch sources) that hold them, in a fixed order; equal data gives equal digests.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
import torch


def fingerprint(*items: Any) -> str:
    """A 16-hex-digit SHA-256 digest of ``items``' contents."""
    h = hashlib.sha256()
    seen: set[int] = set()

    def walk(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        if isinstance(x, np.memmap) and x.filename:
            # a mapped file (an encoded corpus, maybe GBs): its identity, not a read of every page;
            # cache files are named by their content, and a rewritten file changes size or mtime
            st = os.stat(x.filename)
            h.update(f"m{x.filename}{st.st_size}{st.st_mtime_ns}{x.dtype.str}{x.shape}".encode())
            h.update(np.ascontiguousarray(x[:8]).data)
            h.update(np.ascontiguousarray(x[-8:]).data)
        elif isinstance(x, np.ndarray):
            h.update(f"a{x.dtype.str}{x.shape}".encode())
            h.update(np.ascontiguousarray(x).data)
        elif x is None or isinstance(x, (str, int, float, bool, np.generic, torch.dtype)):
            h.update(f"v{x!r};".encode())
        elif isinstance(x, dict):
            h.update(f"d{len(x)}".encode())
            for k in sorted(x, key=str):
                walk(k)
                walk(x[k])
        elif isinstance(x, (list, tuple)):
            h.update(f"l{len(x)}".encode())
            for v in x:
                walk(v)
        elif hasattr(x, "__dict__") and not callable(x) and id(x) not in seen:
            seen.add(id(x))  # plain objects (batch sources): their fields
            h.update(type(x).__name__.encode())
            walk({k: v for k, v in vars(x).items() if not callable(v)})
        else:
            h.update(type(x).__name__.encode())

    for item in items:
        walk(item)
    return h.hexdigest()[:16]


__all__ = ["fingerprint"]
