"""``ForecastStream``: a forecaster updated with each new observation.

The forecaster was trained on windows: instance normalisation takes each window's last
value and spread, and the encoder starts every window from a zero state. A forecast
after a new observation is therefore a function of the last ``context`` rows, not of a
state carried from the start of time; the stream keeps those rows (a sliding window,
its state) and, on :meth:`ForecastStream.forecast`, runs the whole window through the
model in one call -- the fused kernel over C steps costs far less than C single steps.
The answer equals ``model(window, future)`` exactly (tested).

Units: the model's (globally scaled) units; :meth:`rnnkit.Forecaster.stream` wraps this
with the estimator's scaler and calendar features for raw values.
"""

from __future__ import annotations

import copy as _copy

import numpy as np
import torch

from rnnkit.errors import ConfigError
from rnnkit.inference.stream import StreamState, as_numpy, model_id
from rnnkit.models.forecaster import ForecastNet


class ForecastStream(StreamState):
    """``batch`` series, each with its last ``context`` rows (B, C, n_targets + n_past + n_known).

    State: ``window`` (B, C, F) and ``seen`` (B, 1), the rows observed so far (a forecast
    needs a full window).
    """

    family = "forecaster"

    def __init__(self, model: ForecastNet, context: int, batch: int = 1) -> None:
        if context < 1 or batch < 1:
            raise ConfigError(f"a forecast stream needs context >= 1 and batch >= 1, got {context} and {batch}")
        c = model.config
        self.model = model.eval()
        self.context = context
        self.n_inputs = c.n_targets + c.n_past + c.n_known
        self.model_id = model_id([as_numpy(p) for p in model.parameters()])
        self.steps = 0
        self.window = np.zeros((batch, context, self.n_inputs), np.float32)
        self.seen = np.zeros((batch, 1), np.float32)

    @property
    def batch(self) -> int:
        return self.window.shape[0]

    def explain(self) -> str:
        return (f"forecaster stream of {self.batch} series: a sliding window of {self.context} rows, "
                f"each forecast one call of the model over the window (torch's fused kernel)")

    def update(self, rows) -> None:
        """Append one observation per series: ``rows`` (B, n_targets + n_past + n_known)."""
        rows = np.asarray(rows, dtype=np.float32)
        if rows.shape != (self.batch, self.n_inputs):
            raise ConfigError(f"a forecaster update is (batch={self.batch}, {self.n_inputs} values: targets, "
                              f"past covariates, known covariates), got shape {rows.shape}")
        if not np.isfinite(rows).all():
            raise ConfigError("a forecaster update must be finite (no NaN or infinity)")
        self.window[:, :-1] = self.window[:, 1:]
        self.window[:, -1] = rows
        self.seen += 1
        self.steps += 1

    @torch.no_grad()
    def forecast(self, future=None) -> np.ndarray:
        """The model's output (B, H, n_targets, P) after the rows seen so far; ``future``
        (B, H, n_known) are the known covariates over the horizon (needed if n_known > 0)."""
        c = self.model.config
        short = int(self.seen.min())
        if short < self.context:
            raise ConfigError(f"a forecast reads the last {self.context} rows; a series has seen {short}")
        if future is None:
            if c.n_known:
                raise ConfigError(f"this forecaster needs the {c.n_known} known covariate(s) over the horizon")
            future = np.zeros((self.batch, c.horizon, 0), np.float32)
        future = np.asarray(future, dtype=np.float32)
        if future.shape != (self.batch, c.horizon, c.n_known):
            raise ConfigError(f"future covariates are (batch={self.batch}, horizon={c.horizon}, {c.n_known}), "
                              f"got shape {future.shape}")
        device = next(self.model.parameters()).device
        out = self.model(torch.from_numpy(self.window).to(device), torch.from_numpy(future).to(device))
        return out.cpu().numpy()

    def step(self, rows, future=None) -> np.ndarray:
        """:meth:`update` then :meth:`forecast`."""
        self.update(rows)
        return self.forecast(future)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        return {"window": self.window.copy(), "seen": self.seen.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        if not isinstance(state, dict) or set(state) != {"window", "seen"}:
            raise ConfigError("a forecaster stream's state holds exactly 'window' and 'seen'")
        window, seen = np.asarray(state["window"]), np.asarray(state["seen"])
        b = window.shape[0] if window.ndim == 3 else -1
        for name, value, shape in (("window", window, (b, self.context, self.n_inputs)), ("seen", seen, (b, 1))):
            if value.shape != shape or value.dtype != np.float32 or b < 1:
                raise ConfigError(f"state {name!r} must be float32 of shape {shape}, "
                                  f"got {value.dtype} of shape {value.shape}")
        self.window, self.seen = window.copy(), seen.copy()

    def copy(self) -> ForecastStream:
        other = _copy.copy(self)
        other.window, other.seen = self.window.copy(), self.seen.copy()
        return other

    def reset(self) -> None:
        self.window = np.zeros_like(self.window)
        self.seen = np.zeros_like(self.seen)
        self.steps = 0


__all__ = ["ForecastStream"]
