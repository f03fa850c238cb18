"""An attention heat map as a PNG: output tokens down, source tokens across (Bahdanau et al.
2015, figure 3). matplotlib is the optional ``plot`` extra."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.outputs import save_figure


def plot_attention(weights: np.ndarray, src_tokens: list[str], out_tokens: list[str], out_path: str | Path) -> Path:
    """``weights`` (len(out_tokens), len(src_tokens)): row ``t`` is where output ``t`` looked."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("the attention plot needs matplotlib: pip install 'rnnkit[plot]'") from None
    rows, cols = weights.shape
    fig, ax = plt.subplots(figsize=(min(16.0, 2.0 + 0.45 * cols), min(16.0, 1.5 + 0.4 * rows)))
    image = ax.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    ax.set_xticks(range(cols), src_tokens, rotation=60, ha="right")
    ax.set_yticks(range(rows), out_tokens)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    fig.tight_layout()
    out_path = Path(out_path)
    save_figure(fig, out_path, dpi=110)
    plt.close(fig)
    return out_path
