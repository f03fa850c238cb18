"""Optimizers and learning-rate schedules, chosen by name from a config."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch

from rnnkit.errors import ConfigError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "zaremba", "cosine", "plateau")


@dataclass
class OptimConfig:
    """Optimizer and schedule.

    Schedules (``epoch`` counts from 0):

    * ``constant``: ``lr``.
    * ``zaremba``: ``lr * decay ** max(0, epoch + 1 - decay_start)``: constant for
      ``decay_start`` epochs, then multiplied by ``decay`` every epoch (Zaremba et al. 2014).
    * ``cosine``: from ``lr`` down to ``min_lr`` over all training steps.
    * ``plateau``: multiply by ``decay`` whenever the validation loss has not improved
      for ``patience + 1`` epochs.
    """

    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    decay: float = 0.5
    decay_start: int = 4
    min_lr: float = 0.0
    patience: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.lr <= 0:
            raise ConfigError(f"learning rate must be positive, got {self.lr}")

    def to_dict(self) -> dict:
        return asdict(self)


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: OptimConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


class LRSchedule:
    """The learning rate at every step; its state (plateau bookkeeping) is JSON-able."""

    def __init__(self, cfg: OptimConfig, epochs: int, steps_per_epoch: int) -> None:
        self.cfg = cfg
        self.total_steps = max(1, epochs * steps_per_epoch)
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.scale = 1.0
        self.best = math.inf
        self.bad_epochs = 0

    def lr(self, epoch: int, step_in_epoch: int) -> float:
        c = self.cfg
        if c.schedule == "zaremba":
            return c.lr * c.decay ** max(0, epoch + 1 - c.decay_start)
        if c.schedule == "cosine":
            progress = min(1.0, (epoch * self.steps_per_epoch + step_in_epoch) / self.total_steps)
            return c.min_lr + (c.lr - c.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
        return c.lr * self.scale  # constant (scale stays 1) or plateau

    def end_of_epoch(self, valid_loss: float) -> None:
        if self.cfg.schedule != "plateau":
            return
        if valid_loss < self.best:
            self.best, self.bad_epochs = valid_loss, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.cfg.patience:
                self.scale *= self.cfg.decay
                self.bad_epochs = 0

    def state_dict(self) -> dict:
        return {"scale": self.scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.scale, self.best, self.bad_epochs = state["scale"], state["best"], state["bad_epochs"]
