"""What the :class:`~rnnkit.training.Trainer` asks of a task, as typed protocols.

A task ties data, a model and a loss together; every family in :mod:`rnnkit.tasks` has
one, and so can a user's own module (see ``examples/custom_module.py``). The trainer
checks the protocol when it is built, so a missing method is named at once instead of
failing an epoch later.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from torch import Tensor, nn


@runtime_checkable
class EpochBatches(Protocol):
    """One epoch's batches in a fixed order (for a given epoch and seed)."""

    def __len__(self) -> int: ...

    def iter_from(self, k: int) -> Iterator[Any]:
        """The epoch's batches from the ``k``-th on (resuming mid-epoch)."""
        ...


@runtime_checkable
class TrainingTask(Protocol):
    """Data + model + loss for the trainer.

    ``carries_state``: batches are contiguous streams, so the final recurrent state of one
    batch (detached) starts the next one (truncated BPTT); otherwise ``state`` is ``None``.
    ``train_step``'s item count is what its mean loss averages over (ranks weight their gradients
    by it); an optional ``item_unit`` names those items for the progress bar's rate (``"tok"``
    when absent; ``"seq"``, ``"steps"``, ``"windows"``, ``"utt"``).

    Under torchrun each rank takes its rows of every batch: tensors are cut along their first
    (batch) dimension; a task whose batches are laid out otherwise defines
    ``shard_batch(batch, rank, world) -> (its part, its rows)``.
    """

    @property
    def model(self) -> nn.Module: ...

    carries_state: bool

    def train_batches(self, epoch: int) -> EpochBatches: ...

    def train_step(self, model: nn.Module, batch: Any, state: Any) -> tuple[Tensor, Any, int]:
        """``(mean loss, new state, items in the batch)``; the trainer does backward and step."""
        ...

    def evaluate(self, model: nn.Module, split: str) -> dict[str, Any]:
        """Validation metrics; must hold ``"loss"`` (lower is better)."""
        ...

    def describe(self, loss: float) -> dict[str, float]:
        """Metrics derived from a loss for the progress bar (perplexity, bits per char)."""
        ...

    def meta(self) -> dict[str, Any]:
        """What a checkpoint needs beside the weights (JSON): task name, vocabulary, ..."""
        ...


@runtime_checkable
class SamplingTask(TrainingTask, Protocol):
    """A task that can show a sample (generated text) while it trains."""

    def sample(self, model: nn.Module) -> str: ...


_REQUIRED = ("model", "carries_state", "train_batches", "train_step", "evaluate", "describe", "meta")


def check_task(task: object) -> None:
    """Raise ``TypeError`` naming what ``task`` lacks of :class:`TrainingTask`."""
    missing = [name for name in _REQUIRED if not hasattr(task, name)]
    if missing:
        raise TypeError(f"{type(task).__name__} is not a training task: it lacks {', '.join(missing)} "
                        "(see rnnkit.training.TrainingTask)")
    if not isinstance(task.model, nn.Module):  # type: ignore[attr-defined]
        raise TypeError(f"{type(task).__name__}.model must be a torch.nn.Module")


__all__ = ["TrainingTask", "SamplingTask", "EpochBatches", "check_task"]
