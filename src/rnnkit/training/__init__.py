"""Training: the generic trainer, its task protocol and callbacks, optimizers and schedules,
checkpoints."""

from rnnkit.training.callbacks import Callback
from rnnkit.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from rnnkit.training.model_io import build_model, put_model
from rnnkit.training.optim import LRSchedule, OptimConfig
from rnnkit.training.protocol import EpochBatches, SamplingTask, TrainingTask
from rnnkit.training.trainer import Trainer, TrainerConfig, TrainResult, detach_state

__all__ = ["Callback", "Checkpoint", "EpochBatches", "LRSchedule", "OptimConfig", "SamplingTask", "TrainResult",
           "Trainer", "TrainerConfig", "TrainingTask", "build_model", "detach_state", "load_checkpoint",
           "put_model", "save_checkpoint"]
