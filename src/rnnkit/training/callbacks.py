"""Trainer callbacks with named events.

Subclass :class:`Callback` and override the events you need; each receives the trainer
(its ``model``, ``optimizer``, ``epoch``, ``global_step`` ...) and the event's record, the
same dictionary that goes to ``metrics.jsonl``. A plain function ``f(trainer, record)`` is
also accepted and is called at every step (``on_step``), as before.

Events, in order: ``on_fit_start`` (after resuming, before the first step), ``on_step``
(after every optimizer step), ``on_validation`` (after every validation, at epoch ends and
when a budget stops a run mid-epoch), ``on_epoch_end`` (after the epoch's checkpoint is
written), ``on_fit_end`` (with the :class:`~rnnkit.training.TrainResult`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from rnnkit.training.trainer import Trainer, TrainResult


class Callback:
    """Base class: every event does nothing."""

    def on_fit_start(self, trainer: Trainer) -> None:
        pass

    def on_step(self, trainer: Trainer, record: dict[str, Any]) -> None:
        pass

    def on_validation(self, trainer: Trainer, record: dict[str, Any]) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        pass

    def on_fit_end(self, trainer: Trainer, result: TrainResult) -> None:
        pass


class StepFunction(Callback):
    """A plain ``f(trainer, record)`` called at every step."""

    def __init__(self, fn: Callable[[Trainer, dict[str, Any]], None]) -> None:
        self.fn = fn

    def on_step(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.fn(trainer, record)


#: what ``Trainer(callbacks=...)`` accepts: a :class:`Callback` or a per-step function
CallbackLike = Union[Callback, Callable[["Trainer", dict[str, Any]], None]]


def as_callback(cb: CallbackLike) -> Callback:
    return cb if isinstance(cb, Callback) else StepFunction(cb)


__all__ = ["Callback", "CallbackLike", "StepFunction", "as_callback"]
