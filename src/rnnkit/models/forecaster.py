"""``ForecastNet``: a recurrent encoder over a context window -> a multi-step forecast.

Shapes: ``past`` (B, C, n_targets + n_past + n_known), targets first, then past-observed
covariates, then known-future covariates at the context steps; ``future`` (B, H, n_known)
the known-future covariates over the horizon. Output (B, H, n_targets, P): P = 1 for a
point forecast, 2 for a Gaussian (mean, standard deviation), ``len(quantiles)`` for
quantiles; all in the (globally scaled) units of the targets in ``past``.

*Instance normalisation* (on by default): each window's targets are shifted by their last
observed value and divided by their standard deviation over the context (the last
``norm_window`` steps; earlier steps of ``past`` only warm the state up) before the
encoder sees them, and the forecast is mapped back, so the network predicts the change
from the last value in units of the window's own variability. A forecaster that outputs
zeros is then the naive last-value forecast: the network starts from the strong baseline
and learns corrections, and a level shift between training and test years costs nothing
(Zeng et al. 2023, NLinear).

*RevIN* (``revin=True``; Kim et al. 2022, reversible instance normalisation) instead centres
each window's targets on their *mean* over the context, divides by their standard
deviation, and applies a learnable affine map per target, ``x' = gamma (x - mean) / std +
beta``; the output goes back through the inverse, ``y = (y' - beta) / gamma * std + mean``.
An all-zero output is then the context mean (the highway can learn the last value).

With ``highway`` > 0 a linear map from each target's last ``highway`` (normalised) values
to its H future values is added to the output, as in LSTNet (Lai et al. 2018): it carries
the linear, seasonal part of the signal (it can express the seasonal-naive forecast
exactly) and leaves the recurrent part the non-linear rest.

Decoders:

* ``direct``: the encoder's last hidden state and the flattened known-future covariates
  -> one linear layer -> all H steps at once (no error accumulation over the horizon).
* ``autoregressive``: a recurrent decoder started from the encoder's state; each step
  reads the previous value (its own point forecast, or with probability
  ``teacher_forcing`` in training the true value) and that step's known covariates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.errors import ConfigError
from rnnkit.layers import Recurrent

DECODERS = ("direct", "autoregressive")
LIKELIHOODS = ("point", "gaussian", "quantile")


@dataclass
class ForecastNetConfig:
    n_targets: int
    horizon: int
    n_past: int = 0
    n_known: int = 0
    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    zoneout: float = 0.0  # zoneout probability on the recurrent state (Krueger et al. 2017)
    decoder: str = "direct"
    likelihood: str = "point"
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    instance_norm: bool = True
    teacher_forcing: float = 0.0
    norm_window: int = 0  # instance-norm statistics over the last this many steps (0: all of ``past``)
    revin: bool = False  # reversible instance normalisation: mean/std per window and a learnable affine map
    highway: int = 0  # LSTNet's linear autoregressive highway over the last this many steps (0: none)

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise ConfigError(f"decoder must be one of {', '.join(DECODERS)}, got {self.decoder!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"likelihood must be one of {', '.join(LIKELIHOODS)}, got {self.likelihood!r}")
        if self.horizon < 1 or self.n_targets < 1:
            raise ConfigError("horizon and the number of targets must be at least 1")
        self.quantiles = sorted(float(q) for q in self.quantiles)
        if self.likelihood == "quantile" and not all(0 < q < 1 for q in self.quantiles):
            raise ConfigError(f"quantiles must lie strictly between 0 and 1, got {self.quantiles}")

    @property
    def n_params(self) -> int:
        """P: numbers per target and step."""
        return {"point": 1, "gaussian": 2, "quantile": len(self.quantiles)}[self.likelihood]

    def to_dict(self) -> dict:
        return asdict(self)


class ForecastNet(nn.Module):
    def __init__(self, config: ForecastNetConfig) -> None:
        super().__init__()
        self.config = c = config
        n_in = c.n_targets + c.n_past + c.n_known
        self.encoder = Recurrent(c.cell, n_in, c.hidden_size, c.num_layers, batch_first=True,
                                 dropout=c.dropout if c.num_layers > 1 else 0.0, zoneout=c.zoneout)
        self.drop = nn.Dropout(c.dropout)
        out = c.n_targets * c.n_params
        if c.decoder == "direct":
            self.head = nn.Linear(c.hidden_size + c.horizon * c.n_known, c.horizon * out)
        else:
            self.decoder = Recurrent(c.cell, c.n_targets + c.n_known, c.hidden_size, c.num_layers, batch_first=True,
                                     dropout=c.dropout if c.num_layers > 1 else 0.0, zoneout=c.zoneout)
            self.head = nn.Linear(c.hidden_size, out)
        self.highway = nn.Linear(c.highway, c.horizon) if c.highway else None
        if c.revin:  # RevIN's affine map, per target: starts as the identity
            self.revin_weight = nn.Parameter(torch.ones(c.n_targets))
            self.revin_bias = nn.Parameter(torch.zeros(c.n_targets))
        # Start from "no change": with instance norm an all-zero output is the naive forecast.
        for layer in (self.head, self.highway):
            if layer is not None:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def _norm(self, past: Tensor) -> tuple[Tensor, Tensor]:
        n = self.config.n_targets
        y = past[..., :n]
        if not (self.config.instance_norm or self.config.revin):
            return torch.zeros_like(y[:, -1]), torch.ones_like(y[:, -1])
        window = y[:, -self.config.norm_window:] if self.config.norm_window else y
        loc = window.mean(1) if self.config.revin else y[:, -1]  # (B, n): the mean, or the last observed value
        scale = window.std(1, unbiased=False).add(1e-5)  # (B, n)
        return loc, scale

    def _normalise(self, v: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
        """Targets (B, [T,] n) into the network's units; ``loc``/``scale`` broadcast over time."""
        z = (v - loc) / scale
        return z * self.revin_weight + self.revin_bias if self.config.revin else z

    def _gamma(self) -> Tensor:
        # RevIN's weight away from zero (its sign kept), so that the inverse map exists
        w = self.revin_weight
        return torch.where(w >= 0, w.clamp_min(1e-5), w.clamp_max(-1e-5))

    def forward(self, past: Tensor, future: Tensor, y: Tensor | None = None) -> Tensor:
        """``y`` (B, H, n_targets) is only read for teacher forcing in training."""
        c = self.config
        if past.dim() != 3 or past.shape[-1] != c.n_targets + c.n_past + c.n_known:
            raise ValueError(f"past must be (batch, context, {c.n_targets + c.n_past + c.n_known}), "
                             f"got {tuple(past.shape)}")
        if future.shape[1:] != (c.horizon, c.n_known):
            raise ValueError(f"future must be (batch, {c.horizon}, {c.n_known}), got {tuple(future.shape)}")
        loc, scale = self._norm(past)
        targets = self._normalise(past[..., :c.n_targets], loc[:, None], scale[:, None])
        h, state = self.encoder(torch.cat([targets, past[..., c.n_targets:]], -1))
        B = past.shape[0]
        if c.decoder == "direct":
            z = torch.cat([self.drop(h[:, -1]), future.reshape(B, -1)], -1)
            raw = self.head(z).view(B, c.horizon, c.n_targets, c.n_params)
        else:
            prev = targets[:, -1]
            steps = []
            for k in range(c.horizon):
                out, state = self.decoder.step(torch.cat([prev, future[:, k]], -1), state)
                raw_k = self.head(self.drop(out)).view(B, c.n_targets, c.n_params)
                steps.append(raw_k)
                prev = self._point_raw(raw_k)
                if self.training and y is not None and c.teacher_forcing > 0:
                    true = self._normalise(y[:, k], loc, scale)
                    use = (torch.rand(B, 1, device=past.device) < c.teacher_forcing).to(true.dtype)
                    prev = use * true + (1 - use) * prev
            raw = torch.stack(steps, 1)
        if self.highway is not None:
            if targets.shape[1] < c.highway:
                raise ValueError(f"the highway reads the last {c.highway} steps; past has {targets.shape[1]}")
            # (B, n, highway) -> (B, H, n, 1): one linear map per target, shared by all targets
            linear = self.highway(targets[:, -c.highway:].transpose(1, 2)).transpose(1, 2).unsqueeze(-1)
            if c.likelihood == "gaussian":
                raw = torch.cat([raw[..., :1] + linear, raw[..., 1:]], -1)
            else:
                raw = raw + linear
        return self._denorm(raw, loc, scale)

    def _point_raw(self, raw: Tensor) -> Tensor:
        c = self.config
        if c.likelihood == "quantile":
            return raw[..., min(range(len(c.quantiles)), key=lambda i: abs(c.quantiles[i] - 0.5))]
        return raw[..., 0]

    def _denorm(self, raw: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
        loc, scale = loc[:, None, :, None], scale[:, None, :, None]
        std_scale = scale
        if self.config.revin:  # undo the affine map first: (raw - beta) / gamma
            gamma = self._gamma()[:, None]
            if self.config.likelihood == "gaussian":
                raw = torch.cat([(raw[..., :1] - self.revin_bias[:, None]) / gamma, raw[..., 1:]], -1)
                std_scale = scale / gamma.abs()
            else:
                raw = (raw - self.revin_bias[:, None]) / gamma
        if self.config.likelihood == "gaussian":
            mean = raw[..., :1] * scale + loc
            std = (F.softplus(raw[..., 1:] + 0.5413) + 1e-3) * std_scale  # softplus(0.5413) = 1: one window std
            return torch.cat([mean, std], -1)
        return raw * scale + loc

    def point(self, out: Tensor) -> Tensor:
        """(B, H, n, P) -> (B, H, n): the mean, or the median quantile."""
        return self._point_raw(out)

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        """MSE (point), Gaussian negative log-likelihood, or pinball loss averaged over quantiles."""
        c = self.config
        if c.likelihood == "point":
            return F.mse_loss(out[..., 0], y)
        if c.likelihood == "gaussian":
            return F.gaussian_nll_loss(out[..., 0], y, out[..., 1] ** 2, full=True)
        q = torch.tensor(c.quantiles, dtype=out.dtype, device=out.device)
        diff = y.unsqueeze(-1) - out
        return torch.maximum(q * diff, (q - 1) * diff).mean()

    def intervals(self, out: Tensor, level: float = 0.8) -> tuple[Tensor, Tensor] | None:
        """Lower and upper bounds (B, H, n) of a central ``level`` interval: Gaussian
        quantiles, or the outermost predicted quantiles; ``None`` for point forecasts."""
        c = self.config
        if c.likelihood == "gaussian":
            z = float(torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(0.5 + level / 2)))
            return out[..., 0] - z * out[..., 1], out[..., 0] + z * out[..., 1]
        if c.likelihood == "quantile" and len(c.quantiles) >= 2:
            ordered = out.sort(-1).values  # no crossing quantiles in what users see
            return ordered[..., 0], ordered[..., -1]
        return None


__all__ = ["ForecastNet", "ForecastNetConfig", "DECODERS", "LIKELIHOODS"]
