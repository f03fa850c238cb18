"""The one base of every trainable model family: :class:`Estimator`.

scikit-learn's contract, for recurrent models:

* ``__init__`` stores its hyperparameters unchanged, under their own names (so
  ``get_params``/``set_params``/``sklearn.base.clone`` work and ``repr`` shows what differs
  from the defaults); nothing is learned or checked there.
* :meth:`Estimator.fit` is one template for every family: it applies the run-folder rule
  (a folder that holds a run is refused unless ``overwrite=True`` or ``resume=True``), then
  calls the family's ``_fit`` with the data, and returns ``self``. Learned attributes end in
  ``_`` (``model_``, ``history_``, ``best_valid_loss_``, ...).
* :meth:`save` writes one safetensors checkpoint (weights, parameters, what was learned);
  :meth:`load` reopens it (or a training run's ``best.safetensors``) through the family's
  ``_restore``.

Training goes through the shared :class:`~rnnkit.training.Trainer` in ``run_dir`` (or a
temporary folder); the best epoch's weights (by validation loss) are kept.
"""

from __future__ import annotations

import inspect
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from torch import nn

from rnnkit._version import __version__
from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.training import Trainer, TrainerConfig, distributed, load_checkpoint
from rnnkit.training.callbacks import CallbackLike
from rnnkit.training.checkpoint import Checkpoint, save_checkpoint
from rnnkit.training.model_io import PREFIX, build_model, put_model
from rnnkit.training.optim import OptimConfig
from rnnkit.training.protocol import TrainingTask
from rnnkit.training.run_folder import claim_run_folder
from rnnkit.training.trainer import PRECISIONS, TrainResult, resolve_device

E = TypeVar("E", bound="Estimator")


class Estimator:
    """Base of every model family; see the module docstring.

    A family sets ``TASK`` (the checkpoint's task name) and ``KIND`` (how errors name it),
    takes ``run_dir`` and ``device`` among its parameters, and implements ``_fit(*data,
    resume)``, ``_meta()`` (the checkpoint metadata besides the weights) and
    ``_restore(meta)`` (the learned attributes back from it).
    """

    TASK: ClassVar[str] = ""
    KIND: ClassVar[str] = ""

    run_dir: str | Path | None
    device: str
    model_: nn.Module
    #: the family's training: ``_fit(*data, resume=False, ...)`` (each family types its data)
    _fit: Callable[..., None]

    # ------------------------------------------------------------- parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The value each parameter takes when it is not given: the one source of every
        default, which the command line shows in its help."""
        return cls._defaults()

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self: E, **params: Any) -> E:
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}; "
                                 f"valid parameters: {', '.join(sorted(valid))}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = self._defaults()
        changed = {k: v for k, v in self.get_params().items() if defaults.get(k) != v}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # ------------------------------------------------------------- fitting
    def fit(self: E, *data: Any, resume: bool = False, overwrite: bool = False, allow_changed_data: bool = False,
            callbacks: Sequence[CallbackLike] | None = None, **kwargs: Any) -> E:
        """Learn from ``data`` (what the family's ``_fit`` takes) and return ``self``.

        With a ``run_dir`` the run's checkpoints, metrics and the fitted estimator
        (``model.safetensors``) are written there; a folder holding a run is refused unless
        ``overwrite=True`` (start afresh) or ``resume=True`` (continue its last checkpoint;
        on other data than it started with only with ``allow_changed_data=True``).
        ``callbacks``: :class:`~rnnkit.training.Callback` objects (or per-step functions) the
        trainer calls (e.g. a tuner's pruning).
        """
        self._allow_changed_data = allow_changed_data
        self._fit_callbacks = list(callbacks or [])
        if resume and not self.run_dir:
            raise ConfigError("resume needs run_dir: the folder of the run to continue")
        self.check_params()
        if not self.run_dir:
            self._fit(*data, resume=resume, **kwargs)
            return self
        with claim_run_folder(self.run_dir, resume, overwrite):  # one writer per run folder
            self._fit(*data, resume=resume, **kwargs)
        return self

    def _trainer_config(self, **fixed: Any) -> TrainerConfig:
        """The one place an estimator's parameters become a :class:`TrainerConfig`: each
        training parameter the family has (``epochs``, ``optimizer``, ``lr``,
        ``weight_decay``, ``schedule``, ``clip``, ``early_stopping``, ``max_time``, ``seed``,
        ``device``, ``precision``, ``checkpoint_every``; ``verbose`` -> the progress bar), then the family's
        ``fixed`` values; anything else keeps the Trainer's default. Without
        ``checkpoint_every`` an estimator checkpoints at epoch ends only."""
        p = self._effective_params()
        optim = OptimConfig(**{k: p[k] for k in ("optimizer", "lr", "weight_decay", "schedule", "layer_lr_decay",
                                                 "gradual_unfreezing") if k in p})
        own: dict[str, Any] = {k: p[k] for k in ("epochs", "clip", "early_stopping", "max_time", "seed", "device",
                                                 "precision", "checkpoint_every") if k in p}
        values: dict[str, Any] = {"optim": optim, "progress": bool(p.get("verbose", False)), "checkpoint_every": 0,
                                  "sample_every": 0.0, "log_every": 1, **own, **fixed}
        return TrainerConfig(**values)

    def _effective_params(self) -> dict[str, Any]:
        """The parameters as this fit uses them (a family may resolve ``"auto"`` defaults)."""
        return self.get_params()

    def check_params(self: E) -> E:
        """Raise a :class:`ConfigError` for a hyperparameter no fit could use; ``fit`` calls it
        first, and a command calls it before reading any data. Returns ``self``."""
        precision = getattr(self, "precision", None)
        if precision is not None and precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {precision!r}; choose {', '.join(PRECISIONS)}")
        self._check_params()
        return self

    def _check_params(self) -> None:
        """The family's checks (categorical values, ranges); none by default."""

    def best_loss_text(self) -> str:
        """``"best validation loss"``, or ``"best training loss"`` for a model chosen without held-out data."""
        return "best training loss" if getattr(self, "evaluated_on_", "valid") == "train" else "best validation loss"

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _fit_with_trainer(self, model: nn.Module, task: TrainingTask, config: TrainerConfig, resume: bool = False,
                          callbacks: Sequence[CallbackLike] = ()) -> TrainResult:
        """Run the Trainer; keep the best epoch's weights in ``model_``, the log in ``history_``.
        ``evaluated_on_`` says what chose the epoch: ``"valid"`` (held-out data) or ``"train"``
        (a family that found no held-out data sets ``_evaluated_on = "train"`` before)."""
        import dataclasses

        self.evaluated_on_ = getattr(self, "_evaluated_on", "valid")
        config = dataclasses.replace(config, evaluated_on=self.evaluated_on_)
        ranks = distributed.env_ranks()
        with tempfile.TemporaryDirectory(prefix="rnnkit-") as tmp:
            run_dir = Path(self.run_dir) if self.run_dir else Path(tmp)
            # the run-folder rule was applied by fit(); here a fresh run starts clean
            callbacks = [*callbacks, *getattr(self, "_fit_callbacks", [])]
            result = Trainer(task, config, run_dir, callbacks=callbacks).fit(
                resume=resume, overwrite=not resume, allow_changed_data=getattr(self, "_allow_changed_data", False))

            def best_and_log() -> tuple[bytes, list[str]]:  # rank 0's files (under torchrun, for every rank)
                return (Path(result.best_checkpoint).read_bytes(),
                        (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines())

            if ranks.active:
                data, lines = distributed.on_primary(best_and_log, ranks)
                best = load_checkpoint(result.best_checkpoint, data=data)
            else:  # one process: the file read in place (memory-mapped), not copied into memory
                best = load_checkpoint(result.best_checkpoint)
                lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
            model.load_state_dict({k[len(PREFIX):]: v for k, v in best.tensors.items() if k.startswith(PREFIX)})
        self.history_ = [json.loads(x) for x in lines if x.strip()]
        self.model_ = model.eval()
        self.best_valid_loss_ = result.best_valid_loss
        self.stopped_because_ = result.stopped_because
        self._after_training()
        if self.run_dir and ranks.primary:
            self.save(Path(self.run_dir) / "model.safetensors")
        distributed.finish_fit(ranks)
        return result

    def _after_training(self) -> None:
        """What a family learns after its network (a forecaster's baseline guard), before the
        fitted estimator is saved; nothing by default."""

    # ------------------------------------------------------------- persistence
    def _meta(self) -> dict[str, Any]:
        raise NotImplementedError

    def _restore(self, meta: dict[str, Any]) -> None:
        """Set the learned attributes (besides ``model_``) from a checkpoint's metadata."""

    def _checkpoint_meta(self) -> dict[str, Any]:
        """Task name, estimator class, parameters and the family's metadata: what every
        checkpoint of this estimator holds (training runs' too), so :meth:`load` reads both."""
        # paths as text: a run_dir or checkpoint given as a Path is stored (JSON) as the string it names
        params = {k: str(v) if isinstance(v, os.PathLike) else v for k, v in self.get_params().items()}
        return {"task": self.TASK, "estimator": type(self).__name__, "params": params, **self._meta()}

    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator (weights, parameters, what it learned) to one file."""
        self._check_fitted()
        ck = Checkpoint(meta=self._checkpoint_meta())
        put_model(ck, self.model_)
        return save_checkpoint(path, ck)

    def export(self, path: str | Path, format: str = "onnx") -> list[Path]:
        """Write the fitted model for other runtimes: ``format="onnx"`` gives ONNX graphs
        with the recurrent state as explicit inputs and outputs and this estimator's
        metadata (vocabularies, classes, scalers) inside (see :mod:`rnnkit.inference.onnx_export`).
        Returns the files written."""
        self._check_fitted()
        if format != "onnx":
            raise ConfigError(f"unknown export format {format!r}; choose onnx")
        from rnnkit.inference.onnx_export import export_onnx

        return export_onnx(self.model_, path, {**self._checkpoint_meta(), **self._export_meta()})

    def _export_meta(self) -> dict[str, Any]:
        """What an exported graph's consumer needs beyond :meth:`_checkpoint_meta`."""
        return {}

    @classmethod
    def load(cls: type[E], path: str | Path, device: str = "cpu") -> E:
        """A fitted estimator from :meth:`save`'s file, or from a training run's checkpoint."""
        ck = load_checkpoint(path)
        if ck.meta.get("task") != cls.TASK:
            kind = cls.KIND or repr(cls.TASK)
            raise CheckpointError(f"{path} is not a {kind} checkpoint (task: {ck.meta.get('task')!r})")
        defaults = cls._defaults()
        # JSON turned tuples into lists; give back tuples where the parameter is one by default
        params = {k: (tuple(v) if isinstance(v, list) and isinstance(defaults.get(k), tuple) else v)
                  for k, v in ck.meta.get("params", {}).items() if k in cls._param_names()}
        est = cls(**params)
        est.model_ = build_model(ck, str(path)).to(resolve_device(device)).eval()
        try:
            est._restore(ck.meta)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path} ({ck.origin()}) lacks what this {cls.__name__} needs "
                                  f"({type(e).__name__}: {e}); retrain with rnnkit {__version__}") from None
        return est


__all__ = ["Estimator"]
