"""A PNG of actual values against forecasts for the last windows of a backtest."""

from __future__ import annotations

from pathlib import Path

from rnnkit.outputs import save_figure


def plot_backtest(backtest, out_path: str | Path, windows: int = 4, target: int = 0, context: int | None = None):
    """The last ``windows`` non-overlapping forecasts of the first series (one target), each
    after the observed values before it, with the prediction interval when there is one.
    Returns the path, or ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    s = backtest.series[0]
    h = backtest.horizon
    picks = list(range(len(s["times"]) - 1, -1, -h))[:windows][::-1]
    fig, axes = plt.subplots(1, len(picks), figsize=(4.2 * len(picks), 3.4), squeeze=False, sharey=True)
    name = backtest.target_cols[target] if backtest.target_cols else "target"
    hist_times, hist = s["history_times"], s["history"][:, target]
    for ax, w in zip(axes[0], picks):
        origin = s["times"][w]
        start = hist_times.searchsorted(origin)
        back = context or 2 * h
        ax.plot(hist_times[max(0, start - back):start], hist[max(0, start - back):start], color="0.45", lw=1,
                label="observed")
        times = hist_times[start:start + h]
        ax.plot(times, s["actual"][w, :, target], color="k", lw=1.4, label="actual")
        ax.plot(times, s["forecast"][w, :, target], color="tab:blue", lw=1.4, label="forecast")
        if s["interval"] is not None:
            ax.fill_between(times, s["interval"][0, w, :, target], s["interval"][1, w, :, target],
                            color="tab:blue", alpha=0.2, label="80% interval")
        ax.set_title(f"origin {origin}", fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.grid(alpha=0.3)
    series_label = f" ({s['key']})" if s["key"] else ""
    axes[0][0].set_ylabel(f"{name}{series_label}")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{backtest.split}: last {len(picks)} of {backtest.windows} windows, horizon {h}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out_path, dpi=110)
    plt.close(fig)
    return Path(out_path)


__all__ = ["plot_backtest"]
