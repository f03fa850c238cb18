"""Optimizers and learning-rate schedules, chosen by name from a config."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch

from rnnkit.errors import ConfigError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "zaremba", "cosine", "plateau", "slanted")

#: slanted triangular learning rates (Howard & Ruder 2018): the share of steps spent rising, and
#: how much smaller than ``lr`` the rate starts and ends (their values, used for every model there)
SLANTED_CUT, SLANTED_RATIO = 0.1, 32.0


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
    * ``slanted``: slanted triangular (Howard & Ruder 2018): up from ``lr / 32`` to ``lr``
      over the first 10 % of the steps, then linearly down to ``lr / 32``.

    For a model with ``layer_groups()`` (bottom to top, e.g. embedding, each recurrent layer,
    the head): ``layer_lr_decay`` > 1 gives each group below the top ``1 / layer_lr_decay``
    of the rate of the one above it (discriminative fine-tuning; ULMFiT: 2.6), and
    ``gradual_unfreezing`` trains only the top group in the first epoch, the top two in the
    second, and so on until all train (ULMFiT); in a run too short for that, the stages are
    shortened so that every group trains for the second half of it
    (:func:`unfreeze_stage_steps`).
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
    layer_lr_decay: float = 1.0
    gradual_unfreezing: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.lr <= 0:
            raise ConfigError(f"learning rate must be positive, got {self.lr}")
        if self.layer_lr_decay < 1:
            raise ConfigError(f"layer_lr_decay must be at least 1 (1: the same rate for every layer), "
                              f"got {self.layer_lr_decay}")

    def to_dict(self) -> dict:
        return asdict(self)


def layer_groups(model: torch.nn.Module) -> list[list[torch.nn.Parameter]] | None:
    """The model's parameter groups, bottom to top, if it defines ``layer_groups()``; every
    parameter in exactly one (checked: a parameter left out would never train)."""
    method = getattr(model, "layer_groups", None)
    if not callable(method):
        return None
    groups = [list(g) for g in method()]
    seen = [id(p) for g in groups for p in g]
    if len(seen) != len(set(seen)) or set(seen) != {id(p) for p in model.parameters()}:
        raise ValueError(f"{type(model).__name__}.layer_groups() must hold each parameter exactly once")
    return groups


def param_groups(model: torch.nn.Module, cfg: OptimConfig) -> list[dict]:
    """The optimizer's parameter groups: one (``lr_scale`` 1) unless the model has layer
    groups and ``cfg`` asks for discriminative rates or gradual unfreezing; then one per
    layer group, the top at ``lr_scale`` 1 and each below it ``1 / layer_lr_decay`` of the next."""
    groups = layer_groups(model) if cfg.layer_lr_decay != 1 or cfg.gradual_unfreezing else None
    if groups is None:
        if cfg.gradual_unfreezing:
            raise ConfigError(f"gradual unfreezing needs a model with layer groups; {type(model).__name__} has none")
        return [{"params": list(model.parameters()), "lr_scale": 1.0}]
    top = len(groups) - 1
    return [{"params": g, "lr_scale": cfg.layer_lr_decay ** -(top - i), "layer_group": i}
            for i, g in enumerate(groups)]


def unfreeze_stage_steps(steps_per_epoch: int, total_steps: int, n_groups: int) -> int:
    """Gradual unfreezing's stage length in optimiser steps: one epoch (ULMFiT), or less when
    the run is too short for that to reach the bottom group by half way; every group then
    trains for at least the second half of the run (in a run of fewer than
    ``2 * (n_groups - 1)`` steps, from step ``n_groups - 1``). With one epoch per stage, a
    3-epoch run of a 5-group model would never train its embeddings or first recurrent layer."""
    if n_groups <= 1:
        return max(1, steps_per_epoch)
    return max(1, min(steps_per_epoch, total_steps // (2 * (n_groups - 1))))


def unfrozen_groups(step: int, stage_steps: int, n_groups: int) -> int:
    """How many layer groups (from the top) train at optimiser step ``step`` (from 0): one in
    the first stage, one more each stage after, all from stage ``n_groups - 1`` on."""
    return min(n_groups, 1 + step // max(1, stage_steps))


def unfreeze_top(groups: list[dict], count: int) -> None:
    """Gradual unfreezing: the top ``count`` layer groups train; the others keep their
    weights and are not even differentiated (``requires_grad`` off)."""
    top = len(groups) - 1
    for g in groups:
        trainable = g.get("layer_group", top) > top - count
        for p in g["params"]:
            p.requires_grad_(trainable)


def build_optimizer(params: Iterable[torch.nn.Parameter] | list[dict], cfg: OptimConfig) -> torch.optim.Optimizer:
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
        if c.schedule == "slanted":
            return c.lr * slanted_triangular(epoch * self.steps_per_epoch + step_in_epoch, self.total_steps)
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


def slanted_triangular(step: int, total: int, cut_frac: float = SLANTED_CUT, ratio: float = SLANTED_RATIO) -> float:
    """The slanted triangular multiplier of the rate at ``step`` of ``total`` (Howard & Ruder
    2018, eq. 3): with ``cut = floor(total * cut_frac)``, ``p = t / cut`` while rising, then
    ``1 - (t - cut) / (total - cut)``; the multiplier is ``(1 + p (ratio - 1)) / ratio``."""
    cut = max(1, math.floor(total * cut_frac))
    if step < cut:
        p = step / cut
    else:
        p = max(0.0, 1 - (step - cut) / max(1, total - cut))
    return (1 + p * (ratio - 1)) / ratio
