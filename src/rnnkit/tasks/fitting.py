"""What every scikit-learn style estimator does with its model: fit it through the shared
Trainer keeping the best epoch, save it, and reopen it.

Training runs the :class:`~rnnkit.training.Trainer` in ``run_dir`` (or a temporary
folder); the best epoch's weights (by validation loss) are loaded back, the metrics log
becomes ``history_``, and with a ``run_dir`` the fitted estimator is saved there as
``model.safetensors``. A saved estimator is one checkpoint: the weights, and in its
metadata the task name, the parameters and whatever the estimator learned besides.
"""

from __future__ import annotations

import inspect
import json
import tempfile
from pathlib import Path

from torch import nn

from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.training import Trainer, TrainerConfig, load_checkpoint
from rnnkit.training.checkpoint import Checkpoint, save_checkpoint
from rnnkit.training.model_io import PREFIX, build_model, put_model
from rnnkit.training.trainer import resolve_device


class TrainerFitMixin:
    """Needs ``TASK``, the parameter ``run_dir``, ``_meta()`` (checkpoint metadata with
    ``"params"``) and the parameter protocol of :class:`~rnnkit.tasks.params.ParamsMixin`."""

    TASK = ""
    KIND = ""  # how errors name the task ("forecasting"); the task's name when empty

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _fit_with_trainer(self, model: nn.Module, task, config: TrainerConfig, resume: bool = False) -> None:
        if resume and not self.run_dir:
            raise ConfigError("resume needs run_dir: the folder of the run to continue")
        with tempfile.TemporaryDirectory(prefix="rnnkit-") as tmp:
            run_dir = Path(self.run_dir) if self.run_dir else Path(tmp)
            result = Trainer(task, config, run_dir).fit(resume=resume, overwrite=not resume)
            best = load_checkpoint(result.best_checkpoint)
            model.load_state_dict({k[len(PREFIX):]: v for k, v in best.tensors.items() if k.startswith(PREFIX)})
            lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        self.history_ = [json.loads(x) for x in lines if x.strip()]
        self.model_ = model.eval()
        self.best_valid_loss_ = result.best_valid_loss
        self.stopped_because_ = result.stopped_because
        if self.run_dir:
            self.save(Path(self.run_dir) / "model.safetensors")

    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator (weights, parameters, what it learned) to one file."""
        self._check_fitted()
        ck = Checkpoint(meta=self._meta())
        put_model(ck, self.model_)
        return save_checkpoint(path, ck)

    @classmethod
    def _open(cls, path: str | Path, device: str) -> tuple["TrainerFitMixin", dict]:
        """An unfitted estimator with the saved parameters, its model set on ``device``
        ("auto", "cpu", "cuda", ...), and the metadata for the subclass to restore the rest."""
        ck = load_checkpoint(path)
        if ck.meta.get("task") != cls.TASK:
            kind = cls.KIND or repr(cls.TASK)
            raise CheckpointError(f"{path} is not a {kind} checkpoint (task: {ck.meta.get('task')!r})")
        defaults = {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()}
        # JSON turned tuples into lists; give back tuples where the parameter is one by default
        params = {k: (tuple(v) if isinstance(v, list) and isinstance(defaults.get(k), tuple) else v)
                  for k, v in ck.meta.get("params", {}).items() if k in cls._param_names()}
        est = cls(**params)
        est.model_ = build_model(ck, str(path)).to(resolve_device(device)).eval()
        return est, ck.meta
