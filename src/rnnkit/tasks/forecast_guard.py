"""The baseline guard: a forecaster is served only if it beats the naive baselines on validation.

After training, :class:`~rnnkit.tasks.forecast.Forecaster` backtests the network and the
baselines (naive, seasonal naive, mean; see :mod:`rnnkit.evaluation.forecasting`) on the
validation windows, on the scaled axis (every target on one scale). If the network's MSE is
below the best baseline's, it is served. If not, the guard says so in one line, and
``fallback`` decides what :meth:`predict`, the streams, the server and the backtests serve:

- ``"baseline"`` (the default): the best baseline's forecast. A network that cannot beat
  repeating the last value (or the last season) on held-out data has shown no skill there;
  what it would add is noise, and a user can see and reason about the baseline.
- ``"ensemble"``: ``w * network + (1 - w) * baseline`` with the convex weight ``w`` that
  minimises the validation MSE (closed form; never worse than either on validation). It
  keeps what the network knows but its weight is fitted on the same windows that chose the
  epoch, so it is optimistic; hence not the default.
- ``"none"``: the network anyway (the line is still printed and recorded).

Only baselines computable from the model's own input window are candidates (the seasonal
naive forecast when the season fits in it), so the served forecast depends on exactly the
rows the network reads: streams, the server and ONNX consumers (which get the guard in the
metadata) stay consistent with :meth:`predict`.

The validation windows also chose the training epoch, so the network's validation MSE is
slightly optimistic: the guard errs on the network's side, never against it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rnnkit.errors import ConfigError

FALLBACKS = ("baseline", "ensemble", "none")
BASELINE_NAMES = {"naive": "naive (last value)", "seasonal_naive": "seasonal naive", "mean": "mean of the context"}


def check_fallback(value: str) -> None:
    if value not in FALLBACKS:
        raise ConfigError(f"unknown fallback {value!r}; choose {', '.join(FALLBACKS)}")


def convex_weight(y: np.ndarray, model: np.ndarray, baseline: np.ndarray) -> float:
    """The ``w`` in [0, 1] minimising ``mean((w m + (1 - w) b - y)^2)``: ``<y - b, m - b> / |m - b|^2``."""
    d = (model - baseline).ravel().astype(np.float64)
    denom = float(d @ d)
    if denom == 0.0:
        return 1.0
    return float(np.clip(((y - baseline).ravel().astype(np.float64) @ d) / denom, 0.0, 1.0))


@dataclass
class BaselineGuard:
    """What the validation backtest found and what is served; JSON-able via :meth:`to_dict`."""

    fallback: str
    windows: int
    mse: dict[str, float]  # scaled validation MSE: "model" and each candidate baseline
    best_baseline: str
    serving: str  # "model", a baseline's name, or "ensemble"
    weight: float = 1.0  # the network's share of the served forecast
    ensemble_mse: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def model_wins(self) -> bool:
        return self.mse["model"] < self.mse[self.best_baseline]

    @property
    def ratio(self) -> float:
        """The network's validation MSE over the best baseline's."""
        return self.mse["model"] / self.mse[self.best_baseline] if self.mse[self.best_baseline] > 0 else float("inf")

    @classmethod
    def decide(cls, fallback: str, y: np.ndarray, model: np.ndarray, baselines: dict[str, np.ndarray]) -> BaselineGuard:
        """From validation targets ``y`` and forecasts (W, H, n) on the scaled axis."""
        mse = {"model": float(np.mean((model - y) ** 2))}
        mse.update({k: float(np.mean((v - y) ** 2)) for k, v in baselines.items()})
        best = min(baselines, key=lambda k: mse[k])
        guard = cls(fallback, len(y), mse, best, "model")
        if guard.model_wins or fallback == "none":
            return guard
        if fallback == "baseline":
            guard.serving, guard.weight = best, 0.0
            return guard
        w = convex_weight(y, model, baselines[best])
        guard.serving, guard.weight = "ensemble", w
        guard.ensemble_mse = float(np.mean((w * model + (1 - w) * baselines[best] - y) ** 2))
        return guard

    def serve(self, model: np.ndarray, baselines: dict[str, np.ndarray]) -> np.ndarray:
        """The served forecast from the network's and the baselines' (same shapes, scaled)."""
        if self.serving == "model":
            return model
        base = baselines[self.best_baseline]
        if self.serving == "ensemble":
            return self.weight * model + (1.0 - self.weight) * base
        return base

    def message(self) -> str:
        """One plain line: who won on validation and what is served."""
        best = BASELINE_NAMES.get(self.best_baseline, self.best_baseline)
        head = (f"validation ({self.windows} windows, scaled MSE): model {self.mse['model']:.4g}, "
                f"best baseline {best} {self.mse[self.best_baseline]:.4g} (ratio {self.ratio:.3f})")
        if self.model_wins:
            return f"{head}: the model beats every baseline"
        if self.serving == "model":
            return (f"{head}: WARNING the model does not beat {best}; serving the model anyway "
                    f"(--fallback none)")
        if self.serving == "ensemble":
            return (f"{head}: the model does not beat {best}; serving {self.weight:.2f} x model + "
                    f"{1 - self.weight:.2f} x {best} (validation MSE {self.ensemble_mse:.4g}; --fallback ensemble)")
        return (f"{head}: the model does not beat {best}; serving the {best} forecast instead "
                f"(--fallback baseline; --fallback none serves the model)")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "model_wins": self.model_wins, "ratio": self.ratio, "message": self.message()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BaselineGuard:
        return cls(d["fallback"], d["windows"], dict(d["mse"]), d["best_baseline"], d["serving"], d.get("weight", 1.0),
                   d.get("ensemble_mse"), list(d.get("notes", [])))


__all__ = ["BaselineGuard", "FALLBACKS", "check_fallback", "convex_weight"]
