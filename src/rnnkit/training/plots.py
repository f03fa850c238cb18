"""Training curves as a PNG (matplotlib is an optional extra: ``pip install rnnkit[plot]``)."""

from __future__ import annotations

import json
from pathlib import Path

from rnnkit.outputs import save_figure


def plot_curves(metrics_path: Path, out_path: Path) -> Path | None:
    """Train loss per logged step and validation loss per epoch; ``None`` if nothing to plot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    if not Path(metrics_path).exists():
        return None
    records = [json.loads(line) for line in Path(metrics_path).read_text(encoding="utf-8").splitlines() if line.strip()]
    train = [r for r in records if r.get("kind") == "train"]
    valid = [r for r in records if r.get("kind") == "valid"]
    if not train:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["epoch"] for r in train], [r["loss"] for r in train], lw=0.8, alpha=0.7, label="train")
    if valid:
        ax.plot([r["epoch"] for r in valid], [r["loss"] for r in valid], "o-", label="valid")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (nats per item)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out_path, dpi=110)
    plt.close(fig)
    return Path(out_path)
