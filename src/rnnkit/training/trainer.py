"""The generic trainer every task uses.

It knows one recurrent thing, the state: with a task whose batches are contiguous
streams (``task.carries_state``), the final state of window ``k`` is detached and handed
to window ``k+1`` as its initial state (truncated BPTT), and reset to zeros at the start
of every epoch. Everything else is ordinary training: an optimizer and schedule,
gradient clipping by global norm (the norm is logged), validation each epoch, early
stopping, atomic checkpoints (``last`` and ``best``), exact resume, a progress bar,
metrics as JSONL, and a PNG of the curves.

A task is any object that satisfies :class:`~rnnkit.training.protocol.TrainingTask`
(``model``, ``carries_state``, ``train_batches``, ``train_step``, ``evaluate``,
``describe``, ``meta``; optionally ``sample``); the model is any ``nn.Module`` that
:mod:`rnnkit.training.model_io` can store (an rnnkit model, or a user's module with a
``config``). Callbacks get named events (:mod:`rnnkit.training.callbacks`).
"""

from __future__ import annotations

import functools
import json
import math
import random
import signal
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnkit.errors import CheckpointError, ConfigError, TrainingDiverged
from rnnkit.training import distributed
from rnnkit.training.callbacks import Callback, CallbackLike, as_callback
from rnnkit.training.checkpoint import (
    Checkpoint,
    atomic_write_bytes,
    load_checkpoint,
    remove_orphaned_temporaries,
    save_checkpoint,
)
from rnnkit.training.denormals import flushed_denormals
from rnnkit.training.model_io import put_model
from rnnkit.training.optim import (
    LRSchedule,
    OptimConfig,
    build_optimizer,
    param_groups,
    unfreeze_stage_steps,
    unfreeze_top,
    unfrozen_groups,
)
from rnnkit.training.protocol import TrainingTask, check_task
from rnnkit.training.run_folder import RUN_FILES, claim_run_folder

#: stop codes, reduced with max across ranks (the strongest reason wins)
STOP_TIME, STOP_REQUESTED, STOP_INTERRUPTED = 1, 2, 3
#: rank r > 0 seeds its RNG with seed + r * this (rank 0 draws what one process would)
RANK_SEED_STRIDE = 1_000_003

#: ``--precision`` values and the autocast dtype each runs in (None: no autocast)
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainerConfig:
    """How to train; saved in every checkpoint."""

    epochs: int = 10
    optim: OptimConfig = field(default_factory=OptimConfig)
    clip: float | None = 5.0  # max global gradient norm; None disables clipping (norm still logged)
    early_stopping: int | None = None  # stop after this many epochs without a better validation loss
    checkpoint_every: int = 200  # steps between mid-epoch checkpoints (0: only at epoch ends)
    max_time: float | None = None  # seconds of training before stopping cleanly
    min_steps: int = 0  # the time budget does not stop a run before this many steps
    max_steps: int | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"  # "fp32", "bf16" or "fp16": autocast (weights stay float32; fp16 scales the loss)
    bf16: bool = False  # older spelling of precision="bf16", kept so older checkpoints' configs load
    threads: int | None = None  # torch's CPU threads for this run (None: as the process has them)
    progress: bool = True
    sample_every: float = 30.0  # seconds between samples shown while training (0: never)
    log_every: int = 10  # steps between training-metric records
    evaluated_on: str = "valid"  # what the per-epoch evaluation reads: "valid", or "train" without held-out data

    def __post_init__(self) -> None:
        if isinstance(self.optim, dict):
            self.optim = OptimConfig(**self.optim)
        if self.epochs < 1:
            raise ConfigError(f"epochs must be at least 1, got {self.epochs}")
        if self.clip is not None and self.clip <= 0:
            raise ConfigError(f"clip must be positive, got {self.clip}")
        if self.bf16 and self.precision == "fp32":
            self.precision = "bf16"
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose {', '.join(PRECISIONS)}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be at least 1, got {self.threads}")

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA if available, else Apple MPS, else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but this torch has no CUDA device")
    return device


def detach_state(state: Any) -> Any:
    """Cut the graph at the window boundary: truncated BPTT keeps values, not history."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(detach_state(s) for s in state)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get_rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(tuple(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


@dataclass
class TrainResult:
    run_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    best_valid_loss: float
    epochs_completed: int
    global_step: int
    stopped_because: str


class Trainer:
    """Train ``task.model`` on ``task`` into ``run_dir``; see the module docstring."""

    def __init__(self, task: TrainingTask, config: TrainerConfig, run_dir: str | Path,
                 callbacks: Sequence[CallbackLike] | None = None,
                 extra_meta: dict | None = None) -> None:
        check_task(task)
        self.task = task
        self.config = config
        self.run_dir = Path(run_dir)
        self.callbacks: list[Callback] = [as_callback(cb) for cb in callbacks or []]
        self.extra_meta = extra_meta or {}
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        self.device = resolve_device(config.device)
        self.ranks = distributed.setup(self.device)  # one process unless torchrun started us
        self.device = distributed.rank_device(self.device, self.ranks)
        self.model: nn.Module = task.model.to(self.device)
        distributed.broadcast_module(self.model, self.ranks)
        self.param_groups = param_groups(self.model, config.optim)
        self.optimizer = build_optimizer(self.param_groups, config.optim)
        self._unfrozen: int | None = None  # how many layer groups gradual unfreezing last let train
        self.autocast_dtype = PRECISIONS[config.precision]
        # fp16 needs loss scaling (its range is too small for small gradients); bf16 does not
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.precision == "fp16")
        self.steps_per_epoch = len(task.train_batches(0))
        self.schedule = LRSchedule(config.optim, config.epochs, self.steps_per_epoch)
        # gradual unfreezing: one more layer group every `_unfreeze_stage` optimiser steps
        self._unfreeze_stage = unfreeze_stage_steps(self.steps_per_epoch, self.schedule.total_steps,
                                                    len(self.param_groups))
        # progress
        self.epoch = 0
        self.batch_in_epoch = 0
        self.global_step = 0
        self.best_valid = math.inf
        self.epochs_without_improvement = 0
        self.carried_state: Any = None
        self._stop_reason: str | None = None
        self._stop_requested: str | None = None  # request_stop / a signal, agreed by all ranks at the next step
        self._started = math.inf  # set when fit starts: the time budget counts from there
        self._allow_changed_data = False

    # ---------------------------------------------------------------- paths and logs
    @property
    def last_path(self) -> Path:
        return self.run_dir / "last.safetensors"

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.safetensors"

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    def log(self, record: dict) -> None:
        if not self.ranks.primary:  # one log, rank 0's (its records hold every rank's loss)
            return
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def request_stop(self, reason: str = "stopped") -> None:
        """Finish the current step, save a checkpoint, and return from :meth:`fit` (under
        torchrun every rank stops at the same step, whichever asked)."""
        self._stop_requested = reason
        if not self.ranks.active:
            self._stop_reason = reason

    # ---------------------------------------------------------------- checkpoints
    def _checkpoint(self) -> Checkpoint:
        ck = Checkpoint(meta={
            **self.task.meta(),
            **self.extra_meta,
            "trainer": {
                "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch, "global_step": self.global_step,
                "best_valid_loss": self.best_valid, "epochs_without_improvement": self.epochs_without_improvement,
            },
            "trainer_config": self.config.to_dict(),
            "runtime": {"threads": torch.get_num_threads(), "world_size": self.ranks.world,
                        "device": str(self.device), "precision": self.config.precision},
            "data_fingerprint": self.data_fingerprint,
        })
        put_model(ck, self.model)
        ck.put_state("optimizer", self.optimizer.state_dict())
        ck.put_state("schedule", self.schedule.state_dict())
        if self.scaler.is_enabled():
            ck.put_state("grad_scaler", self.scaler.state_dict())
        ck.put_state("rng", get_rng_state())
        # every stream's state (the ranks' slices joined), so any number of ranks can resume
        carried = distributed.gather_state(self.carried_state, self.ranks) if self.ranks.active else self.carried_state
        if carried is not None:
            ck.put_state("carried_state", carried)
        return ck

    def save(self, path: Path | None = None) -> Path:
        """Write a checkpoint (``last`` by default); under torchrun every rank calls it and
        rank 0 writes."""
        path = path or self.last_path
        ck = self._checkpoint()
        if self.ranks.primary:
            save_checkpoint(path, ck)
        return path

    def _resume(self) -> None:
        if self.ranks.active:  # rank 0 reads the file and hands its bytes to the others (no shared filesystem)
            ck = load_checkpoint(self.last_path, data=distributed.on_primary(self.last_path.read_bytes, self.ranks))
        else:
            ck = load_checkpoint(self.last_path)
        if ck.meta.get("task") != self.task.meta().get("task"):
            raise CheckpointError(f"{self.last_path} is a {ck.meta.get('task')!r} checkpoint, "
                                  f"not {self.task.meta().get('task')!r}")
        stored = ck.meta.get("data_fingerprint")
        if stored and self.data_fingerprint and stored != self.data_fingerprint and not self._allow_changed_data:
            raise ConfigError(f"the training data differ from those the run in {self.run_dir} started with; "
                              "resume on the same data, or allow it explicitly (--allow-changed-data)")
        prefix = "model/"
        weights = {k[len(prefix):]: v for k, v in ck.tensors.items() if k.startswith(prefix)}
        try:
            self.model.load_state_dict(weights)
        except RuntimeError as e:
            raise CheckpointError(f"{self.last_path} does not match this model "
                                  f"({str(e).splitlines()[0]}); resume with the same options") from None
        self.optimizer.load_state_dict(ck.state("optimizer"))
        self.schedule.load_state_dict(ck.state("schedule"))
        if self.scaler.is_enabled() and ck.has_state("grad_scaler"):
            self.scaler.load_state_dict(ck.state("grad_scaler"))
        t = ck.meta["trainer"]
        self.epoch, self.batch_in_epoch, self.global_step = t["epoch"], t["batch_in_epoch"], t["global_step"]
        self.best_valid, self.epochs_without_improvement = t["best_valid_loss"], t["epochs_without_improvement"]
        self.carried_state = None
        if ck.has_state("carried_state"):
            s = distributed.state_slice(ck.state("carried_state"), self.ranks)  # this rank's streams
            self.carried_state = tuple(x.to(self.device) for x in s) if isinstance(s, tuple) else s.to(self.device)
        set_rng_state(ck.state("rng"))
        if not self.ranks.primary:  # the stored RNG is rank 0's; the others' follow from the seed and step
            seed_everything(self.config.seed + RANK_SEED_STRIDE * self.ranks.rank + self.global_step)
        self._truncate_metrics()

    def _truncate_metrics(self) -> None:
        """Drop records logged after the checkpoint we resume from, so the log has no duplicates."""
        if not self.ranks.primary or not self.metrics_path.exists():
            return
        keep = []
        for line in self.metrics_path.read_text(encoding="utf-8", errors="replace").split("\n"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # empty, or cut short by a kill mid-write
                continue
            if isinstance(record, dict) and record.get("step", 0) <= self.global_step:
                keep.append(line)
        atomic_write_bytes(self.metrics_path, ("\n".join(keep) + "\n" if keep else "").encode("utf-8"))

    # ---------------------------------------------------------------- training
    def fit(self, resume: bool = False, overwrite: bool = False, allow_changed_data: bool = False) -> TrainResult:
        """Train; ``resume`` continues ``run_dir``'s last checkpoint. A fresh run refuses a
        folder that already holds one (its checkpoints would be mixed up or replaced)
        unless ``overwrite``. The folder is locked against other writers meanwhile.

        A task with ``data_fingerprint()`` has it stored in every checkpoint; resuming on
        other data is refused unless ``allow_changed_data``."""
        with claim_run_folder(self.run_dir, resume, overwrite):
            self._allow_changed_data = allow_changed_data
            try:
                with flushed_denormals():
                    return self._fit(resume)
            except distributed.DistributedError as e:
                kept = (f"the last checkpoint, {self.last_path}, is intact: resume with any number of ranks"
                        if self.ranks.primary and self.last_path.exists() else "rank 0 keeps the last checkpoint")
                raise distributed.DistributedError(f"{e}; {kept}") from None
            finally:
                if self.config.optim.gradual_unfreezing:  # the model leaves fit as it came: all trainable
                    for p in self.model.parameters():
                        p.requires_grad_(True)

    @functools.cached_property
    def data_fingerprint(self) -> str | None:
        fn = getattr(self.task, "data_fingerprint", None)
        return fn() if callable(fn) else None

    def _fit(self, resume: bool) -> TrainResult:
        cfg = self.config
        distributed.on_primary(lambda: self._prepare_folder(resume), self.ranks)
        if resume:
            self._resume()
        else:
            # rank 0 draws what one process would; the others draw their own dropout masks
            seed_everything(cfg.seed + RANK_SEED_STRIDE * self.ranks.rank)
        started = self._started = time.monotonic()  # the time budget counts from here
        last_sample = started
        from rnnkit.training.progress import TrainingProgress

        progress = TrainingProgress(enabled=cfg.progress and self.ranks.primary, total_epochs=cfg.epochs,
                                    steps_per_epoch=self.steps_per_epoch, evaluated_on=cfg.evaluated_on,
                                    item_unit=getattr(self.task, "item_unit", "tok"))
        previous_handlers = self._install_stop_handlers()
        for cb in self.callbacks:
            cb.on_fit_start(self)
        try:
            with progress:
                if resume:
                    progress.print(f"resuming {self.last_path} at epoch {self.epoch + 1}, "
                                   f"step {self.global_step} ({self.batch_in_epoch} of {self.steps_per_epoch} "
                                   f"batches of this epoch done)")
                if self.epoch >= cfg.epochs:
                    self._stop_reason = "completed"
                while self.epoch < cfg.epochs and self._stop_reason is None:
                    batches = self.task.train_batches(self.epoch)
                    if self.batch_in_epoch == 0:
                        self.carried_state = None  # reset at every epoch start
                    progress.start_epoch(self.epoch, self.batch_in_epoch)
                    window_t0, window_items = time.monotonic(), 0
                    for batch in batches.iter_from(self.batch_in_epoch):
                        record = self._train_step(batch)
                        window_items += record["items"]
                        elapsed = time.monotonic() - window_t0
                        record["items_per_s"] = window_items / elapsed if elapsed > 0 else 0.0
                        progress.update(record, self.task.describe(record["loss"]))
                        if self.global_step % cfg.log_every == 0 or self.batch_in_epoch == len(batches):
                            self.log(record)
                        for cb in self.callbacks:
                            cb.on_step(self, record)
                        now = time.monotonic()
                        if (cfg.sample_every and now - last_sample >= cfg.sample_every and hasattr(self.task, "sample")
                                and self.ranks.primary):
                            progress.print(self.task.sample(self.model))
                            last_sample = now
                        if cfg.max_steps is not None and self.global_step >= cfg.max_steps:
                            self._stop_reason = self._stop_reason or "max_steps reached"
                        if self._stop_reason is not None:
                            break
                        if cfg.checkpoint_every and self.global_step % cfg.checkpoint_every == 0:
                            self.save()
                    if self._stop_reason is not None and self.batch_in_epoch < len(batches):
                        if self._stop_reason != "interrupted":
                            self._validate_partial(progress)  # a budgeted run keeps its best model
                        self.save()  # mid-epoch stop: resumable from exactly here
                        break
                    self._end_epoch(progress)
                    self._agree_on_stop()
                stopped = self._stop_reason or "completed"
        finally:
            for signum, previous in previous_handlers.items():
                signal.signal(signum, previous)
        if distributed.on_primary(lambda: not self.best_path.exists(), self.ranks):
            self.save(self.best_path)  # stopped before any validation: best = latest
        if self.ranks.primary:
            self._plot()
        distributed.barrier(self.ranks)  # rank 0's files are complete before any rank returns
        result = TrainResult(self.run_dir, self.best_path, self.last_path, self.best_valid,
                             self.epoch, self.global_step, stopped)
        for cb in self.callbacks:
            cb.on_fit_end(self, result)
        return result

    def _install_stop_handlers(self) -> dict[int, Any]:
        """First Ctrl-C (or SIGTERM, as sent by ``kill``, schedulers and container stops):
        stop after this step and save; a second one interrupts at once. Returns the handlers
        they replace."""
        def handler(signum, frame):
            if self._stop_requested == "interrupted":
                raise KeyboardInterrupt
            self.request_stop("interrupted")
        previous: dict[int, Any] = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                previous[signum] = signal.signal(signum, handler)
            except ValueError:  # not the main thread (e.g. a notebook worker): keep the default
                pass
        return previous

    def _prepare_folder(self, resume: bool) -> None:
        """Rank 0's part of the start: the folder made, a killed run's half-written files and,
        for a fresh run, the previous run's files removed."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        remove_orphaned_temporaries(self.run_dir)
        if resume:
            if not self.last_path.exists():
                raise CheckpointError(f"nothing to resume: {self.last_path} does not exist")
        else:
            for name in (*RUN_FILES, self.metrics_path.name, "curves.png"):
                (self.run_dir / name).unlink(missing_ok=True)

    def _local_stop(self) -> int:
        """Why this rank would stop after the current step, as a code all ranks can reduce
        with max: 0 go on, 1 the time budget, 2 a request (``request_stop``), 3 a signal."""
        cfg = self.config
        if self._stop_requested == "interrupted":
            return STOP_INTERRUPTED
        if self._stop_requested is not None:
            return STOP_REQUESTED
        if (cfg.max_time is not None and time.monotonic() - self._started >= cfg.max_time
                and self.global_step + 1 >= cfg.min_steps):
            return STOP_TIME
        return 0

    def _apply_stop(self, code: int) -> None:
        if code and self._stop_reason is None:
            self._stop_reason = {STOP_TIME: "time budget reached", STOP_INTERRUPTED: "interrupted"}.get(
                code, self._stop_requested or "stopped by another rank")

    def _agree_on_stop(self) -> None:
        """At an epoch's end: a stop asked by a callback (or signal) on any rank stops all."""
        if self.ranks.active:
            local = (STOP_INTERRUPTED if self._stop_requested == "interrupted"
                     else STOP_REQUESTED if self._stop_requested else 0)  # the time budget waits for a step
            code = distributed.max_code(local, self.ranks)
            self._apply_stop(code)
            self._stop_reason = distributed.broadcast_object(self._stop_reason, self.ranks)

    def _train_step(self, batch) -> dict:
        cfg = self.config
        self.model.train()
        lr = self.schedule.lr(self.epoch, self.batch_in_epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)  # discriminative rates: lower layers learn slower
        if cfg.optim.gradual_unfreezing:
            count = unfrozen_groups(self.epoch * self.steps_per_epoch + self.batch_in_epoch, self._unfreeze_stage,
                                    len(self.param_groups))
            if count != self._unfrozen:
                unfreeze_top(self.param_groups, count)
                self._unfrozen = count
        state = self.carried_state if self.task.carries_state else None
        shard = getattr(self.task, "shard_batch", None)
        if not self.ranks.active:
            local, rows = batch, 1
        elif callable(shard):
            local, rows = shard(batch, self.ranks.rank, self.ranks.world)
        else:
            local, rows = distributed.shard(batch, self.ranks)
        self.optimizer.zero_grad(set_to_none=True)
        loss_value, items = 0.0, 0
        if rows:  # a last batch smaller than the ranks leaves some without rows: they add nothing
            with torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.float32,
                                enabled=self.autocast_dtype is not None):
                loss, state, items = self.task.train_step(self.model, local, state)
            loss_value = loss.item()
            if not self.ranks.active and not math.isfinite(loss_value):
                self._diverged(f"the loss is {loss_value}")
            self.scaler.scale(loss).backward()
        loss_value, items, stop = distributed.reduce_step(self.model, loss_value, items, self._local_stop(), self.ranks)
        if not math.isfinite(loss_value):
            self._diverged(f"the loss is {loss_value}")
        self.scaler.unscale_(self.optimizer)  # clip the true gradient, not the scaled one
        max_norm = cfg.clip if cfg.clip is not None else math.inf
        grad_norm = float(nn.utils.clip_grad_norm_(self.model.parameters(), max_norm))
        if not math.isfinite(grad_norm) and not self.scaler.is_enabled():
            self._diverged(f"the gradient norm is {grad_norm}")  # a step on it would put NaN into every weight
        # with fp16 loss scaling an overflow skips this step and lowers the scale instead
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.carried_state = detach_state(state) if self.task.carries_state else None
        self.global_step += 1
        self.batch_in_epoch += 1
        self._apply_stop(stop)
        return {"kind": "train", "step": self.global_step,
                "epoch": self.epoch + self.batch_in_epoch / self.steps_per_epoch,
                "loss": loss_value, "grad_norm": grad_norm, "lr": lr, "items": items}

    def _diverged(self, what: str) -> None:
        """Stop: the NaN guard. The weights and checkpoints are as they were before this step."""
        saved = (f"the last good checkpoint is {self.last_path}" if self.last_path.exists()
                 else "no checkpoint was written yet")
        raise TrainingDiverged(f"training diverged at step {self.global_step + 1} (epoch {self.epoch + 1}): "
                               f"{what}; {saved}. Lower the learning rate, clip gradients (--clip), or look "
                               "for extreme values in the data")

    def _validate_partial(self, progress) -> None:
        """Validate mid-epoch (a time or step budget ran out) and keep the model if it is best.

        Validation runs in eval mode without touching the RNG, so resuming afterwards still
        reproduces the uninterrupted run.
        """
        valid = self._evaluate()
        record = {"kind": "valid", "step": self.global_step,
                  "epoch": self.epoch + self.batch_in_epoch / self.steps_per_epoch,
                  **valid, **self.task.describe(valid["loss"])}
        self.log(record)
        for cb in self.callbacks:
            cb.on_validation(self, record)
        improved = valid["loss"] < self.best_valid
        progress.end_epoch(self.epoch, record, improved)
        if improved:
            self.best_valid = valid["loss"]
            self.save(self.best_path)

    def _evaluate(self) -> dict:
        """Validation metrics; under torchrun rank 0 computes them and every rank gets them,
        so the best epoch, the schedule and early stopping are decided once."""
        return distributed.on_primary(lambda: self.task.evaluate(self.model, "valid"), self.ranks)

    def _end_epoch(self, progress) -> None:
        valid = self._evaluate()
        self.schedule.end_of_epoch(valid["loss"])
        improved = valid["loss"] < self.best_valid
        record = {"kind": "valid", "step": self.global_step, "epoch": self.epoch + 1, **valid,
                  **self.task.describe(valid["loss"])}
        self.log(record)
        for cb in self.callbacks:
            cb.on_validation(self, record)
        progress.end_epoch(self.epoch, record, improved)
        self.epoch += 1
        self.batch_in_epoch = 0
        self.carried_state = None
        if improved:
            self.best_valid, self.epochs_without_improvement = valid["loss"], 0
        else:
            self.epochs_without_improvement += 1
        # best before last: a kill between the two leaves an older last (which resumes and
        # redoes this epoch), never a last that names a best not on disk
        if improved:
            self.save(self.best_path)
        self.save()
        for cb in self.callbacks:
            cb.on_epoch_end(self, record)
        patience = self.config.early_stopping
        if patience is not None and self.epochs_without_improvement >= patience:
            self._stop_reason = f"early stopping: no better validation loss for {patience} epochs"

    def _plot(self) -> None:
        from rnnkit.training.plots import plot_curves

        plot_curves(self.metrics_path, self.run_dir / "curves.png")
