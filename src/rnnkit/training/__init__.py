"""Training: the generic trainer, its task protocol and callbacks, optimizers and schedules,
checkpoints. Names load on first use (the trainer imports torch)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "Callback": "rnnkit.training.callbacks",
    "Checkpoint": "rnnkit.training.checkpoint", "load_checkpoint": "rnnkit.training.checkpoint",
    "save_checkpoint": "rnnkit.training.checkpoint",
    "build_model": "rnnkit.training.model_io", "put_model": "rnnkit.training.model_io",
    "LRSchedule": "rnnkit.training.optim", "OptimConfig": "rnnkit.training.optim",
    "EpochBatches": "rnnkit.training.protocol", "SamplingTask": "rnnkit.training.protocol",
    "TrainingTask": "rnnkit.training.protocol",
    "Trainer": "rnnkit.training.trainer", "TrainerConfig": "rnnkit.training.trainer",
    "TrainResult": "rnnkit.training.trainer", "detach_state": "rnnkit.training.trainer",
}

__all__ = sorted(_WHERE)

if TYPE_CHECKING:
    from rnnkit.training.callbacks import Callback  # noqa: F401
    from rnnkit.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint  # noqa: F401
    from rnnkit.training.model_io import build_model, put_model  # noqa: F401
    from rnnkit.training.optim import LRSchedule, OptimConfig  # noqa: F401
    from rnnkit.training.protocol import EpochBatches, SamplingTask, TrainingTask  # noqa: F401
    from rnnkit.training.trainer import Trainer, TrainerConfig, TrainResult, detach_state  # noqa: F401


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'rnnkit.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
