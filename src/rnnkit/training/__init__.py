"""Training: checkpoints (and, built on them, the generic trainer)."""

from rnnkit.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint

__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint"]
