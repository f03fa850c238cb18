"""Training: the generic trainer, optimizers and schedules, checkpoints."""

from rnnkit.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from rnnkit.training.optim import LRSchedule, OptimConfig
from rnnkit.training.trainer import Trainer, TrainerConfig, TrainResult, detach_state

__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint", "OptimConfig", "LRSchedule", "Trainer",
           "TrainerConfig", "TrainResult", "detach_state"]
