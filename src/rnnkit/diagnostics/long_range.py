"""The classic long-range memory experiments: which cell still learns as the lag grows?

* **Adding problem** (Hochreiter & Schmidhuber 1997; Le et al. 2015): each step has a
  value ``u ~ U(0, 1)`` and a marker; exactly two steps are marked, one in each half of
  the sequence, and the target is the sum of their values. Predicting 1 always gives
  MSE ``1/6``; *solved* means test MSE below ``0.01`` (well under a tenth of that).
* **Copy memory** (Arjovsky et al. 2016): ``K`` symbols from ``{1..8}``, then ``T``
  blanks (0), a delimiter (9) and ``K - 1`` more blanks; the network must output blanks
  and then, over the last ``K`` steps, the ``K`` symbols it saw ``T + K`` steps earlier.
  *Solved* means at least 99 % of those symbols right.

:func:`run_long_range` trains one small network per (cell, length) for a fixed number of
steps with fresh random batches (no data set to overfit), with or without gradient
clipping, and reports whether it solved the task: with lags of a few hundred steps the
Elman RNN fails first, because its gradient vanishes geometrically with the lag.

Besides the cells of :data:`rnnkit.cells.CELL_TYPES`, ``"irnn"`` is the Elman ReLU cell
started at the identity (Le, Jaitly & Hinton 2015: ``W_hh = I``, zero biases). Its
Jacobian ``dh_t/dh_{t-1}`` starts with spectral radius 1 and grows past it in training,
so it is the cell that shows *exploding* gradients, and what clipping does about them.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.errors import ConfigError
from rnnkit.layers import Recurrent
from rnnkit.outputs import save_figure
from rnnkit.training.denormals import flushed_denormals

TASKS = ("adding", "copy")
EXTRA_CELLS = ("irnn",)
COPY_SYMBOLS = 8
COPY_K = 10


def adding_batch(batch: int, length: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """``x`` (B, T, 2): values and markers; ``y`` (B,): the sum of the two marked values."""
    if length < 2:
        raise ValueError("the adding problem needs length >= 2")
    values = torch.rand(batch, length, generator=gen)
    half = length // 2
    first = torch.randint(0, half, (batch,), generator=gen)
    second = torch.randint(half, length, (batch,), generator=gen)
    markers = torch.zeros(batch, length)
    rows = torch.arange(batch)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], dim=-1), values[rows, first] + values[rows, second]


def copy_batch(batch: int, lag: int, gen: torch.Generator, k: int = COPY_K) -> tuple[Tensor, Tensor]:
    """``x`` (B, lag + 2k) symbol ids; ``y`` (B, lag + 2k): 0 (blank) except the last k steps."""
    symbols = torch.randint(1, COPY_SYMBOLS + 1, (batch, k), generator=gen)
    total = lag + 2 * k
    x = torch.zeros(batch, total, dtype=torch.long)
    x[:, :k] = symbols
    x[:, lag + k - 1] = COPY_SYMBOLS + 1  # the delimiter: "now repeat"
    y = torch.zeros(batch, total, dtype=torch.long)
    y[:, -k:] = symbols
    return x, y


class LongRangeNet(nn.Module):
    """One recurrent layer and a linear read-out: the last step (adding) or every step (copy)."""

    def __init__(self, task: str, cell: str, hidden_size: int, forget_bias: float | None = None) -> None:
        super().__init__()
        self.task = task
        self.embed: nn.Embedding | None
        if task == "copy":
            self.embed = nn.Embedding(COPY_SYMBOLS + 2, COPY_SYMBOLS + 2)
            self.embed.weight.data = torch.eye(COPY_SYMBOLS + 2)  # one-hot input
            self.embed.weight.requires_grad_(False)
            features, outputs = COPY_SYMBOLS + 2, COPY_SYMBOLS + 1
        else:
            self.embed, features, outputs = None, 2, 1
        self.rnn = Recurrent("rnn_relu" if cell == "irnn" else cell, features, hidden_size, batch_first=True,
                             forget_bias=forget_bias if cell == "lstm" else None)
        if cell == "irnn":
            identity_init(self.rnn)
        self.head = nn.Linear(hidden_size, outputs)

    def forward(self, x: Tensor) -> Tensor:
        h, _ = self.rnn(self.embed(x) if self.embed is not None else x)
        return self.head(h).squeeze(-1)[:, -1] if self.task == "adding" else self.head(h)


def identity_init(rnn: Recurrent) -> None:
    """IRNN initialisation: every recurrent matrix the identity, every bias zero."""
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            if "weight_hh" in name:
                p.copy_(torch.eye(p.shape[0], p.shape[1]))
            elif "bias" in name:
                p.zero_()


def _loss_and_score(task: str, out: Tensor, y: Tensor) -> tuple[Tensor, float]:
    if task == "adding":
        loss = F.mse_loss(out, y)
        return loss, loss.item()
    loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
    accuracy = (out[:, -COPY_K:].argmax(-1) == y[:, -COPY_K:]).float().mean()
    return loss, float(accuracy)


@dataclass
class LongRangeResult:
    task: str
    cell: str
    length: int
    clip: float | None
    steps: int
    score: float  # adding: test MSE (baseline 1/6); copy: accuracy on the recalled symbols
    solved: bool
    max_grad_norm: float
    diverged: bool
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def solved(task: str, score: float) -> bool:
    return score < 0.01 if task == "adding" else score >= 0.99


def train_long_range(task: str, cell: str, length: int, steps: int = 1000, hidden_size: int = 64,
                     batch_size: int = 64, lr: float = 1e-3, clip: float | None = 1.0, seed: int = 0,
                     test_size: int = 512, forget_bias: float | None = 1.0) -> LongRangeResult:
    """Train on fresh batches for ``steps`` steps; score on ``test_size`` held-out sequences.

    ``forget_bias`` (LSTM only) starts the forget gate open, as is standard practice, so
    that the LSTM is compared at its best; ``None`` keeps torch's initialisation.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    make = adding_batch if task == "adding" else copy_batch
    torch.manual_seed(seed)
    model = LongRangeNet(task, cell, hidden_size, forget_bias)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    gen = torch.Generator().manual_seed(seed + 1)
    t0, max_norm, diverged = time.perf_counter(), 0.0, False
    with flushed_denormals():  # a gradient read at the last step decays into denormals (6x slower)
        for _ in range(steps):
            x, y = make(batch_size, length, gen)
            loss, _ = _loss_and_score(task, model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norm = float(nn.utils.clip_grad_norm_(model.parameters(), clip if clip else math.inf))
            max_norm = max(max_norm, norm)
            if not math.isfinite(norm) or not math.isfinite(loss.item()):
                diverged = True
                break
            opt.step()
    with torch.no_grad():
        x, y = make(test_size, length, torch.Generator().manual_seed(10_000 + seed))
        _, score = _loss_and_score(task, model.eval()(x), y)
    if diverged or not math.isfinite(score):
        score = float("inf") if task == "adding" else 0.0
    return LongRangeResult(task, cell, length, clip, steps, score, solved(task, score) and not diverged,
                           max_norm, diverged, time.perf_counter() - t0)


def run_long_range(task: str, cells: list[str], lengths: list[int], clips: list[float | None], steps: int = 1000,
                   hidden_size: int = 64, seed: int = 0, on_result=None, lr: float = 1e-3,
                   forget_bias: float | None = 1.0) -> list[LongRangeResult]:
    """Every (clip, cell, length) combination; ``on_result`` is called after each run."""
    bad = [c for c in clips if c is not None and not (math.isfinite(c) and c > 0)]
    if bad:
        raise ConfigError(f"a clipping norm must be a positive number (or none), got {bad[0]}")
    results = []
    for clip in clips:
        for cell in cells:
            for length in lengths:
                r = train_long_range(task, cell, length, steps, hidden_size, lr=lr, clip=clip, seed=seed,
                                     forget_bias=forget_bias)
                results.append(r)
                if on_result is not None:
                    on_result(r)
    return results


def plot_long_range(results: list[LongRangeResult], out_path):
    """Score against length, one line per cell, one panel per clipping setting; solved runs
    are filled markers. ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    clips = sorted({r.clip for r in results}, key=lambda c: (c is not None, c or 0))
    task = results[0].task
    fig, axes = plt.subplots(2, len(clips), figsize=(6 * len(clips), 7), squeeze=False, sharex=True,
                             gridspec_kw={"height_ratios": [3, 2]})
    for ax, grad_ax, clip in zip(axes[0], axes[1], clips):
        for cell in dict.fromkeys(r.cell for r in results):
            rs = sorted((r for r in results if r.cell == cell and r.clip == clip), key=lambda r: r.length)
            if not rs:
                continue
            scores = [min(r.score, 1.0) if task == "adding" else r.score for r in rs]
            line, = ax.plot([r.length for r in rs], scores, "-", label=cell)
            for r, y in zip(rs, scores):
                ax.plot(r.length, y, "o", color=line.get_color(), fillstyle="full" if r.solved else "none")
            # an overflow (inf) is drawn at the top of the panel as an x
            norms = [r.max_grad_norm if math.isfinite(r.max_grad_norm) else 1e30 for r in rs]
            grad_ax.plot([r.length for r in rs], norms, "-", color=line.get_color(), label=cell)
            for r, g in zip(rs, norms):
                grad_ax.plot(r.length, g, "x" if g >= 1e30 else ".", color=line.get_color())
        if task == "adding":
            ax.axhline(1 / 6, color="grey", ls=":", label="predict 1 (MSE 1/6)")
            ax.axhline(0.01, color="grey", ls="--", label="solved below")
            ax.set_yscale("log")
            ax.set_ylabel("test MSE")
        else:
            ax.axhline(1 / COPY_SYMBOLS, color="grey", ls=":", label="chance")
            ax.set_ylabel("recall accuracy")
        ax.set_xscale("log")
        grad_ax.set_yscale("log")
        grad_ax.set_xlabel("sequence length (lag)")
        grad_ax.set_ylabel("largest gradient norm\n(before clipping; x = overflow)")
        grad_ax.grid(alpha=0.3, which="both")
        ax.set_title(f"{task}: {'no clipping' if clip is None else f'clip {clip:g}'} (filled = solved)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out_path, dpi=110)
    plt.close(fig)
    return out_path
