"""Polyphonic music end to end: piano rolls -> a trained model -> NLL per step, frame
accuracy, and sampled pieces written as MIDI.

Training runs through the shared :class:`~rnnkit.training.Trainer` on batches of whole
pieces (padded, with lengths); the loss is the NLL summed over the 88 keys and averaged
over real steps, which is exactly the reported metric. Frame-level accuracy is Bay et al.
(2009)'s ``TP / (TP + FP + FN)`` over all test frames, predicting a key when its
probability exceeds 0.5.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.music import N_KEYS, RollBatches, read_music
from rnnkit.errors import ConfigError, DataError
from rnnkit.models.music_model import PolyphonicModel, PolyphonicModelConfig
from rnnkit.tasks.base import Estimator
from rnnkit.training import Trainer, TrainerConfig
from rnnkit.training.callbacks import CallbackLike
from rnnkit.training.optim import OptimConfig
from rnnkit.training.trainer import TrainResult

TASK = "music"


@dataclass
class MusicSettings:
    """Data, model and training options (saved in every checkpoint)."""

    data: str = ""
    steps_per_quarter: int = 4  # MIDI input only: the grid
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.0
    zoneout: float = 0.0
    epochs: int = 100
    batch_size: int = 8
    lr: float = 3e-3
    weight_decay: float = 0.0
    clip: float | None = 1.0
    early_stopping: int | None = 10
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    progress: bool = True
    max_time: float | None = None
    checkpoint_every: int = 0  # steps between mid-epoch checkpoints (0: at epoch ends)

    def __post_init__(self) -> None:
        if self.data:  # absolute: saved in the run, read again from wherever it is resumed
            self.data = os.path.abspath(self.data)

    def to_dict(self) -> dict:
        return asdict(self)

    def model_config(self) -> PolyphonicModelConfig:
        return PolyphonicModelConfig(N_KEYS, self.cell, self.hidden_size, self.num_layers, self.dropout, self.zoneout)

    def trainer_config(self) -> TrainerConfig:
        return TrainerConfig(epochs=self.epochs, optim=OptimConfig(optimizer="adam", lr=self.lr,
                                                                   weight_decay=self.weight_decay),
                             clip=self.clip, early_stopping=self.early_stopping,
                             checkpoint_every=self.checkpoint_every, seed=self.seed,
                             device=self.device, precision=self.precision, progress=self.progress,
                             sample_every=0.0, log_every=10, max_time=self.max_time)


@torch.no_grad()
def score_rolls(model: PolyphonicModel, pieces: list[np.ndarray], batch_size: int = 16) -> dict:
    """NLL per step (nats, summed over keys), frame accuracy, and the step count."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    nll = tp = fp = fn = 0.0
    steps = 0
    for roll, lengths in RollBatches(pieces, batch_size, shuffle=False).for_epoch(0):
        roll = roll.to(device)
        logits, _ = model(model.shifted(roll), lengths=lengths)
        nll += float(model.step_nll(roll, lengths).sum())
        mask = (torch.arange(roll.shape[1], device=device)[None] < lengths.to(device)[:, None]).unsqueeze(-1)
        pred, true = (logits > 0) & mask, (roll > 0.5) & mask
        tp += float((pred & true).sum())
        fp += float((pred & ~true).sum())
        fn += float((~pred & true).sum())
        steps += int(lengths.sum())
    model.train(was_training)
    return {"nll": nll / steps, "frame_accuracy": tp / max(1.0, tp + fp + fn), "steps": steps}


class MusicTask:
    carries_state = False
    item_unit = "steps"  # what the progress bar's rate counts: time steps (chords)

    def __init__(self, model: PolyphonicModel, splits: dict[str, list[np.ndarray]], settings: MusicSettings,
                 meta: dict | None = None) -> None:
        self.model, self.splits, self.settings = model, splits, settings
        self._meta = meta or {"task": TASK, "settings": settings.to_dict()}
        self._train = RollBatches(splits["train"], settings.batch_size, True, settings.seed)
        self._valid_split = "valid" if splits.get("valid") else "train"

    def data_fingerprint(self) -> str:
        return fingerprint(self.splits)

    def train_batches(self, epoch: int):
        return self._train.for_epoch(epoch)

    def train_step(self, model, batch, state):
        roll, lengths = batch
        roll = roll.to(next(model.parameters()).device)
        nll = model.step_nll(roll, lengths)
        return nll.sum() / lengths.sum(), None, int(lengths.sum())

    def evaluate(self, model, split: str) -> dict:
        scores = score_rolls(model, self.splits[self._valid_split])
        return {"loss": scores["nll"], "frame_accuracy": scores["frame_accuracy"]}

    def describe(self, loss: float) -> dict:
        return {}

    def meta(self) -> dict:
        return self._meta


def train(settings: MusicSettings, run_dir: str | Path, resume: bool = False, overwrite: bool = False,
          splits: dict[str, list[np.ndarray]] | None = None,
          callbacks: Sequence[CallbackLike] | None = None) -> TrainResult:
    """Train on ``settings.data`` (or the given ``splits``) into ``run_dir``; the epoch with the
    best validation NLL is kept as ``best.safetensors``."""
    if splits is None:
        if not settings.data:
            raise ConfigError("no music given: a JSB .json, a Coconet .npz, a .mid file or a folder of them")
        splits = read_music(settings.data, settings.steps_per_quarter)
    if not splits.get("train"):
        raise DataError(f"{settings.data or 'the data'} has no training pieces")
    torch.manual_seed(settings.seed)
    model = PolyphonicModel(settings.model_config())
    trainer = Trainer(MusicTask(model, splits, settings), settings.trainer_config(), run_dir, callbacks=callbacks)
    return trainer.fit(resume=resume, overwrite=overwrite)


class MusicModeler(Estimator):
    """A polyphonic piano-roll model: fit on JSB/Coconet/MIDI pieces, score, sample.

    Hyperparameters default to ``None``: :class:`MusicSettings`' value, so each default is
    written once. ``fit(data)`` takes a file or folder (see :func:`~rnnkit.data.music.read_music`)
    or a ``{"train": [...], "valid": [...], "test": [...]}`` dict of ``(T, 88)`` rolls.
    Learned: ``model_`` (:class:`~rnnkit.models.PolyphonicModel`), ``settings_``,
    ``history_``, ``best_valid_loss_``.
    """

    TASK = TASK
    KIND = "music"
    model_: PolyphonicModel

    def __init__(self, cell: str | None = None, hidden_size: int | None = None, num_layers: int | None = None,
                 dropout: float | None = None, zoneout: float | None = None, steps_per_quarter: int | None = None,
                 epochs: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, weight_decay: float | None = None,
                 clip: float | None = None, early_stopping: int | None = None, seed: int | None = None,
                 device: str = "auto",
                 precision: str = "fp32", max_time: float | None = None, checkpoint_every: int | None = None,
                 verbose: bool = False,
                 run_dir: str | Path | None = None) -> None:
        self.cell, self.hidden_size, self.num_layers, self.dropout = cell, hidden_size, num_layers, dropout
        self.zoneout = zoneout
        self.steps_per_quarter, self.epochs, self.batch_size, self.lr = steps_per_quarter, epochs, batch_size, lr
        self.weight_decay, self.clip, self.early_stopping, self.seed = weight_decay, clip, early_stopping, seed
        self.device, self.max_time, self.verbose, self.run_dir = device, max_time, verbose, run_dir
        self.precision = precision
        self.checkpoint_every = checkpoint_every

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """``None`` parameters take :class:`MusicSettings`' values."""
        settings = MusicSettings()
        return {k: getattr(settings, k, v) if v is None else v for k, v in cls._defaults().items()}

    def _settings(self, data: str) -> MusicSettings:
        given = {k: v for k, v in self.get_params().items() if v is not None and k not in ("verbose", "run_dir")}
        return MusicSettings(data=data, progress=self.verbose, **given)

    def read(self, data: str | Path) -> dict[str, list[np.ndarray]]:
        """The splits of a music file or folder, read on this model's grid."""
        return read_music(data, self.defaults()["steps_per_quarter"] if self.steps_per_quarter is None
                          else self.steps_per_quarter)

    def _fit(self, data: str | Path | dict[str, list[np.ndarray]], resume: bool = False,
             callbacks: Sequence[CallbackLike] | None = None,
             splits: dict[str, list[np.ndarray]] | None = None) -> None:
        """Train on a music file or folder, or on a dict of splits; ``splits`` gives the file's
        pieces already read (the file is then only recorded, not read again)."""
        settings = self._settings("" if isinstance(data, dict) else str(data))
        if splits is None:
            splits = data if isinstance(data, dict) else self.read(data)
        if not splits.get("train"):
            raise DataError(f"{settings.data or 'the data'} has no training pieces")
        self.settings_ = settings
        torch.manual_seed(settings.seed)
        model = PolyphonicModel(settings.model_config())
        task = MusicTask(model, splits, settings, self._checkpoint_meta())
        self._fit_with_trainer(model, task, settings.trainer_config(), resume, callbacks or ())

    def _meta(self) -> dict:
        return {"settings": self.settings_.to_dict()}

    def _restore(self, meta: dict) -> None:
        self.settings_ = MusicSettings(**meta["settings"])

    def evaluate(self, pieces: list[np.ndarray]) -> dict:
        """NLL per step (nats, summed over keys), frame accuracy and the step count."""
        self._check_fitted()
        if not pieces:
            raise DataError("no pieces to evaluate")
        return score_rolls(self.model_, pieces)

    def score(self, pieces: list[np.ndarray]) -> float:
        """Negative NLL per step (greater is better)."""
        return -self.evaluate(pieces)["nll"]

    @torch.no_grad()
    def stream(self, batch: int = 1):
        """A :class:`~rnnkit.inference.MusicStream`: piano-roll frame (B, 88) -> logits of the next."""
        from rnnkit.inference import MusicStream

        self._check_fitted()
        return MusicStream(self.model_, batch)

    def generate(self, steps: int, seed_roll: np.ndarray | None = None, temperature: float = 1.0,
                 seed: int | None = None) -> np.ndarray:
        """A ``(len(seed) + steps, 88)`` roll: the seed frames, then ``steps`` sampled ones.

        Each key is drawn from ``Bernoulli(sigmoid(logit / temperature))`` given everything
        before; lower temperatures give fewer, surer notes.
        """
        self._check_fitted()
        if temperature <= 0:
            raise ConfigError(f"temperature must be positive, got {temperature}")
        model = self.model_
        device = next(model.parameters()).device
        if device.type == "cpu":
            return self._generate_numpy(steps, seed_roll, temperature, seed)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        frames = [] if seed_roll is None else [torch.as_tensor(f, dtype=torch.float32) for f in seed_roll]
        state, prev = None, torch.zeros(1, N_KEYS, device=device)
        for f in frames:  # read the seed: each frame is the input for the next step
            _, state = model.rnn.step(prev, state)
            prev = f.to(device)[None]
        out = list(frames)
        for _ in range(steps):
            h, state = model.rnn.step(prev, state)
            probs = torch.sigmoid(model.head(h).float() / temperature).cpu()
            frame = torch.bernoulli(probs, generator=gen)[0]
            out.append(frame)
            prev = frame.to(device)[None]
        return torch.stack(out).numpy() if out else np.zeros((0, N_KEYS), np.float32)

    def _generate_numpy(self, steps: int, seed_roll: np.ndarray | None, temperature: float,
                        seed: int | None) -> np.ndarray:
        """:meth:`generate` on the CPU through the NumPy step engine (a :class:`MusicStream`)."""
        rng = np.random.default_rng(seed)
        stream = self.stream(1)
        frames = [] if seed_roll is None else [np.asarray(f, dtype=np.float32) for f in seed_roll]
        prev = np.zeros((1, N_KEYS), np.float32)
        for f in frames:  # read the seed: each frame is the input for the next step
            stream.advance(prev)
            prev = f[None]
        out = list(frames)
        for _ in range(steps):
            logits = stream.advance(prev)
            probs = 1.0 / (1.0 + np.exp(-logits[0] / temperature))
            frame = (rng.random(N_KEYS) < probs).astype(np.float32)
            out.append(frame)
            prev = frame[None]
        return np.stack(out) if out else np.zeros((0, N_KEYS), np.float32)


TrainedMusicModel = MusicModeler  # the name before the estimators were one family


def load(checkpoint: str | Path, device: str = "cpu") -> MusicModeler:
    return MusicModeler.load(checkpoint, device=device)


__all__ = ["MusicSettings", "MusicTask", "MusicModeler", "train", "load", "TrainedMusicModel", "score_rolls", "TASK"]
