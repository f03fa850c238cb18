"""The confusion matrix as a PNG (matplotlib is the optional ``plot`` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnkit.outputs import save_figure


def plot_confusion_matrix(cm: np.ndarray, class_names: list[str], out_path: str | Path,
                          title: str = "Confusion matrix") -> Path | None:
    """Rows: true class, columns: predicted; cells coloured by row-normalised recall and
    labelled with counts. ``None`` when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    n = len(class_names)
    rates = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = min(14.0, 2.5 + 0.45 * n)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ax.set_xticks(range(n), [str(c) for c in class_names], rotation=90 if n > 8 else 0)
    ax.set_yticks(range(n), [str(c) for c in class_names])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} (accuracy {np.trace(cm) / max(1, cm.sum()):.1%})")
    if n <= 30:  # counts stay legible up to about 30 classes
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if rates[i, j] > 0.5 else "black")
    fig.tight_layout()
    save_figure(fig, out_path, dpi=110)
    plt.close(fig)
    return Path(out_path)
