"""How many CPU threads torch should use.

On a machine whose cores are busy with other work, torch's default (one thread per core)
makes every matrix product wait for the slowest core: on 2 shared cores a run was measured
up to 25x slower with 2 threads than with 1. :func:`threads_for_load` takes the cores the
load average leaves free.
"""

from __future__ import annotations

import os


def threads_for_load() -> tuple[int, str]:
    """``(threads, why)``: the cores not busy by the 1-minute load average, at least 1."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):  # no load average on this platform
        return cores, f"{cores} cores"
    free = max(1, min(cores, int(cores - load + 0.5)))
    return free, f"load {load:.1f} on {cores} cores"


def set_threads(threads: int | None = None) -> tuple[int, str]:
    """Set torch's intra-op threads (``None``: from the load); returns ``(threads, why)``."""
    import torch

    if threads is None:
        threads, why = threads_for_load()
    else:
        why = "as asked"
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)
    return threads, why


__all__ = ["threads_for_load", "set_threads"]
