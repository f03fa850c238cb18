"""One offline HTML page for any training run folder.

It reads what the trainer and the task commands leave in a run folder -- the checkpoint's
metadata (task, model configuration, settings, trainer position), ``metrics.jsonl`` (loss,
gradient norm, learning rate, validation metrics, per-step gradient records from the
gradient monitor), ``*_report.json`` and every PNG (curves, confusion matrices, forecasts)
-- and writes ``report.html`` with the figures embedded as base64, so the page needs no
files beside it and no network.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from rnnkit.errors import DataError


def _records(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash: the rest of the log is still worth showing
    return out


def _figure_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _training_figures(records: list[dict]) -> list[tuple[str, str]]:
    """(caption, base64 PNG) for loss, gradient norm and learning rate, and gradient flow."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    train = [r for r in records if r.get("kind") == "train"]
    valid = [r for r in records if r.get("kind") == "valid"]
    figs = []
    if train:
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        axes[0].plot([r["epoch"] for r in train], [r["loss"] for r in train], lw=0.8, label="train")
        if valid:
            axes[0].plot([r["epoch"] for r in valid], [r["loss"] for r in valid], "o-", label="valid")
        axes[0].set(xlabel="epoch", ylabel="loss", title="loss")
        axes[0].legend()
        axes[1].semilogy([r["step"] for r in train], [max(r.get("grad_norm", 0.0), 1e-12) for r in train], lw=0.8)
        axes[1].set(xlabel="step", ylabel="global norm (before clipping)", title="gradient norm")
        axes[2].plot([r["step"] for r in train], [r.get("lr", 0.0) for r in train], lw=0.8)
        axes[2].set(xlabel="step", title="learning rate")
        for ax in axes:
            ax.grid(alpha=0.3)
        fig.tight_layout()
        figs.append(("Training curves", _figure_png(fig)))
    flows = [r for r in records if r.get("kind") == "grad_flow"]
    if flows:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        picks = flows if len(flows) <= 5 else [flows[int(i)] for i in
                                                 [round(k * (len(flows) - 1) / 4) for k in range(5)]]
        for r in picks:
            ax.semilogy(range(len(r["norms"])), r["norms"], label=f"step {r['step']}")
        ax.set(xlabel="time step t in the window", ylabel="|dL/dh_t| (batch mean)",
               title="Gradient reaching each step of the window")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        fig.tight_layout()
        figs.append(("Gradient flow through time (gradient monitor)", _figure_png(fig)))
    return figs


def _table(rows: list[tuple[str, object]]) -> str:
    return "<table>" + "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                               for k, v in rows) + "</table>"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def write_run_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``run_dir/report.html`` (or ``out``) for the training run in ``run_dir``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir} is not a run folder")
    ckpt = next((run_dir / n for n in ("model.safetensors", "best.safetensors", "last.safetensors")
                 if (run_dir / n).exists()), None)
    records = _records(run_dir)
    if ckpt is None and not records:
        raise DataError(f"{run_dir} holds no checkpoint and no metrics.jsonl: not an rnnkit run folder")
    parts = [f"<h1>rnnkit run: {html.escape(str(run_dir))}</h1>"]
    if ckpt is not None:
        from rnnkit.training.checkpoint import load_checkpoint

        meta = load_checkpoint(ckpt).meta
        model = meta.get("model", {})
        parts.append('<section id="summary"><h2>Summary</h2>' + _table([
            ("checkpoint", ckpt.name), ("task", meta.get("task")), ("model", model.get("class")),
            *[(f"trainer: {k}", v) for k, v in meta.get("trainer", {}).items()]]) + "</section>")
        config = dict(model.get("config", {}))
        settings = meta.get("settings") or meta.get("params") or {}
        parts.append('<section id="configuration"><h2>Configuration</h2><h3>model</h3>'
                     + _table(sorted(config.items())) + "<h3>settings</h3>" + _table(sorted(settings.items()))
                     + "</section>")
    valid = [r for r in records if r.get("kind") == "valid"]
    if valid:
        keys = [k for k in valid[-1] if k not in ("kind",)]
        head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(k, '')))}</td>" for k in keys) + "</tr>"
                       for r in valid[-20:])
        parts.append(f'<section id="validation"><h2>Validation (last {min(20, len(valid))} records)</h2>'
                     f"<table><tr>{head}</tr>{body}</table></section>")
    figures = _training_figures(records)
    for path in sorted(run_dir.glob("*.png")):
        figures.append((path.stem.replace("_", " "), base64.b64encode(path.read_bytes()).decode("ascii")))
    if figures:
        parts.append('<section id="figures"><h2>Figures</h2>' + "".join(
            f'<figure><img alt="{html.escape(c)}" src="data:image/png;base64,{b}"><figcaption>{html.escape(c)}'
            f"</figcaption></figure>" for c, b in figures) + "</section>")
    for path in sorted(run_dir.glob("*_report.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        rows = [(k, v) for k, v in report.items() if not isinstance(v, (list, dict))]
        parts.append(f'<section class="report"><h2>{html.escape(path.stem.replace("_", " "))}</h2>'
                     + _table(rows) + "</section>")
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>rnnkit run report</title><style>"
            "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;"
            "margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left;font-size:.9em}"
            "img{max-width:100%}figure{margin:1em 0}</style></head><body>" + "".join(parts) + "</body></html>")
    out = Path(out) if out else run_dir / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
