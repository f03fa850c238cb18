"""Fitting an estimator's model through the shared Trainer, keeping the best epoch.

Every scikit-learn style estimator trains the same way: the :class:`~rnnkit.training.Trainer`
runs in ``run_dir`` (or a temporary folder), the best epoch's weights (by validation loss)
are loaded back, the metrics log becomes ``history_``, and with a ``run_dir`` the fitted
estimator is saved there as ``model.safetensors``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from torch import nn

from rnnkit.errors import ConfigError
from rnnkit.training import Trainer, TrainerConfig, load_checkpoint
from rnnkit.training.model_io import PREFIX


class TrainerFitMixin:
    """Needs ``run_dir`` (a parameter) and ``save(path)``."""

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
