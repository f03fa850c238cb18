"""The one rule for run folders, shared by the Trainer, every estimator and every command.

A folder that holds a run (a ``last``/``best`` training checkpoint or a saved estimator,
``model.safetensors``) is never replaced silently: a fresh run into it needs
``overwrite``; ``resume`` continues it.
"""

from __future__ import annotations

from pathlib import Path

from rnnkit.errors import ConfigError

RUN_FILES = ("last.safetensors", "best.safetensors", "model.safetensors")


def holds_run(run_dir: str | Path) -> bool:
    return any((Path(run_dir) / name).exists() for name in RUN_FILES)


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


__all__ = ["check_run_folder", "holds_run", "RUN_FILES"]
