"""The rules for run folders, shared by the Trainer, every estimator and every command.

* A folder that holds a run (a ``last``/``best`` training checkpoint or a saved estimator,
  ``model.safetensors``) is never replaced silently: a fresh run into it needs
  ``overwrite``; ``resume`` continues it (:func:`check_run_folder`).
* One writer at a time (:func:`run_lock`): a writer holds an exclusive lock on the folder's
  ``.rnnkit.lock`` file, which records its pid and host. The lock is the kernel's
  (``flock``), so it is released when its process ends, even by ``kill -9``: a lock file
  left behind is stale by construction and is simply taken over. A second writer gets a
  one-line error naming the holder. Locks nest within one process (the CLI, the estimator
  and the Trainer each take it).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from rnnkit.errors import ConfigError

try:
    import fcntl
except ImportError:  # Windows: no flock; runs are not locked there
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".rnnkit.lock"
_held: dict[Path, tuple[int, int]] = {}  # folder -> (lock file descriptor, nesting depth)

RUN_FILES = ("last.safetensors", "best.safetensors", "model.safetensors")
TRACES = (*RUN_FILES, "metrics.jsonl", LOCK_NAME)  # any of these: the folder is rnnkit's
_foreign: dict[Path, bool] = {}  # held folders: not empty and not rnnkit's when the lock was taken


def holds_run(run_dir: str | Path) -> bool:
    """A run is there: its checkpoints, or at least its log (a run killed before checkpointing)."""
    return any((Path(run_dir) / name).exists() for name in (*RUN_FILES, "metrics.jsonl"))


def is_foreign(run_dir: str | Path) -> bool:
    """Not empty, and holding nothing rnnkit writes: someone else's folder."""
    folder = Path(run_dir)
    if not folder.is_dir():
        return False
    names = {p.name for p in folder.iterdir()}
    return bool(names) and not names & set(TRACES)


def check_run_folder(run_dir: str | Path, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse a fresh run into a folder that holds one, unless asked to resume or replace it."""
    if resume and overwrite:
        raise ConfigError("resume and overwrite exclude each other: continue the run, or replace it")
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir} is a file, not a run folder; choose another --out")
    if not resume and not overwrite and holds_run(run_dir):
        raise ConfigError(f"{run_dir} already holds a training run; continue it with --resume, "
                          f"replace it with --overwrite, or choose another --out")
    foreign = _foreign.get(run_dir.resolve(), None)
    if not overwrite and (is_foreign(run_dir) if foreign is None else foreign):
        raise ConfigError(f"{run_dir} is not empty and holds no rnnkit run; choose a new or empty folder for "
                          "--out (or pass --overwrite to write into it: only rnnkit's own files are replaced)")


def _holder(lock: Path) -> str:
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
        return f"pid {info['pid']} on {info['host']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def run_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold the exclusive writer's lock on ``run_dir`` (created if needed) for the block."""
    folder = Path(run_dir).resolve()
    if folder in _held:  # this process already holds it: nest
        fd, depth = _held[folder]
        _held[folder] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[folder]
            _held[folder] = (fd, depth - 1)
        return
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file, not a run folder; choose another --out")
    created = not folder.exists()
    foreign = is_foreign(folder)  # judged before the lock file itself is created
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError(f"{folder} is being written by another rnnkit ({_holder(lock)}); wait for it to "
                              "finish or choose another --out") from None
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}).encode())
    _held[folder] = (fd, 1)
    _foreign[folder] = foreign
    try:
        yield
    finally:
        fd, depth = _held[folder]
        if depth <= 1:
            del _held[folder]
            _foreign.pop(folder, None)
            if created and [p.name for p in folder.iterdir()] == [LOCK_NAME]:
                # a refused or failed command leaves no empty folder behind
                lock.unlink(missing_ok=True)
                folder.rmdir()
            os.close(fd)  # releases the flock; otherwise the file stays (removing it would race a new writer)
        else:
            _held[folder] = (fd, depth - 1)


@contextmanager
def claim_run_folder(run_dir: str | Path, resume: bool = False, overwrite: bool = False) -> Iterator[None]:
    """:func:`run_lock` and :func:`check_run_folder` for the block. Under torchrun rank 0
    alone holds the lock and checks the folder, for every rank: a refusal is raised on all of
    them, so none is left waiting (see :mod:`rnnkit.training.distributed`)."""
    from rnnkit.training import distributed

    ranks = distributed.env_ranks()
    if not ranks.active:
        with run_lock(run_dir):
            check_run_folder(run_dir, resume, overwrite)
            yield
        return
    distributed.setup()
    with ExitStack() as stack:
        def claim() -> None:
            stack.enter_context(run_lock(run_dir))
            check_run_folder(run_dir, resume, overwrite)

        distributed.on_primary(claim, ranks)
        yield


__all__ = ["check_run_folder", "claim_run_folder", "holds_run", "run_lock", "RUN_FILES", "LOCK_NAME"]
