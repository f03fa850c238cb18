"""A trainer callback that watches gradients while a model trains.

Every ``every`` steps it records ``||dL/dh_t||`` (mean over the batch) for each time step
``t`` of the window at the output of the model's top recurrent layer, as a
``{"kind": "grad_flow"}`` line in ``metrics.jsonl``, and it warns when

* the global gradient norm (before clipping) jumps above ``explode_factor`` times its
  running median: an exploding gradient, the thing clipping is for;
* the gradient reaching the first step of the window is below ``vanish_ratio`` times the
  one at the last step: the early steps learn (almost) nothing from the later ones.
"""

from __future__ import annotations

import logging
from collections import deque

import numpy as np
from torch import nn

from rnnkit.layers import Recurrent
from rnnkit.training.callbacks import Callback

log = logging.getLogger("rnnkit")


class GradientMonitor(Callback):
    """``Trainer(..., callbacks=[GradientMonitor(model)])``; see the module docstring."""

    def __init__(self, model: nn.Module, every: int = 100, explode_factor: float = 10.0,
                 vanish_ratio: float = 1e-3, history: int = 200) -> None:
        rnns = [m for m in model.modules() if isinstance(m, Recurrent)]
        if not rnns:
            raise ValueError("GradientMonitor needs a model with a recurrent layer")
        self.every, self.explode_factor, self.vanish_ratio = every, explode_factor, vanish_ratio
        self._outputs = None
        self._norms: deque[float] = deque(maxlen=history)
        self.warnings: list[str] = []
        self._batch_first = rnns[-1].batch_first
        rnns[-1].register_forward_hook(self._keep_output)

    def _keep_output(self, module, inputs, output) -> None:
        out = output[0]
        if out.requires_grad:  # a training forward pass: keep dL/d(out) after backward
            out.retain_grad()
            self._outputs = out
        else:
            self._outputs = None

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning(message)

    def on_step(self, trainer, record: dict) -> None:
        if record.get("kind") != "train":
            return
        step, norm = record["step"], record.get("grad_norm", float("nan"))
        if self._norms and np.isfinite(norm):
            median = float(np.median(self._norms))
            if median > 0 and norm > self.explode_factor * median:
                self._warn(f"step {step}: exploding gradient, norm {norm:.3g} is {norm / median:.0f}x the "
                           f"recent median {median:.3g}" + ("" if trainer.config.clip else "; consider --clip"))
        if np.isfinite(norm):
            self._norms.append(norm)
        out = self._outputs
        if step % self.every or out is None or out.grad is None:
            return
        g = out.grad.detach().float().norm(dim=-1)  # (B, T) or (T, B)
        per_step = g.mean(dim=0 if self._batch_first else 1).cpu().numpy()  # (T,)
        trainer.log({"kind": "grad_flow", "step": step, "epoch": record.get("epoch"),
                     "norms": [float(x) for x in per_step]})
        if per_step[-1] > 0 and per_step[0] < self.vanish_ratio * per_step[-1]:
            self._warn(f"step {step}: vanishing gradient, |dL/dh| at the window's first step is "
                       f"{per_step[0] / per_step[-1]:.1e} of that at its last")
