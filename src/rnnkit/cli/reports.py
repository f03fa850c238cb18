"""Evaluation output shared by ``rnnkit classify`` and ``rnnkit tag``: a metrics line, a
per-class table, ``<name>_report.json`` and ``<name>_confusion.png`` in the run folder."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from rich.table import Table

from rnnkit.cli.common import console
from rnnkit.errors import DataError
from rnnkit.tasks.io import atomic_write_text, classification_metrics, confusion_matrix, per_class_report


def beats(model: float, baseline: float, higher_is_better: bool) -> bool:
    return model > baseline if higher_is_better else model < baseline


def verdict(model: float, baseline: float, higher_is_better: bool, kind: str = "") -> str:
    """The model against its baseline in words, the same for every command: it beats it, only
    ties it, or a WARNING that it does not beat this (``kind``) baseline."""
    if model == baseline:
        return "the model only ties it"
    if beats(model, baseline, higher_is_better):
        return "the model beats it"
    return f"WARNING the model does not beat this {kind + ' ' if kind else ''}baseline"


def record_baseline(report_path: Path, base: dict, model_beats_baseline: bool) -> None:
    """Add a baseline's figures (and whether the model beats it) to a saved report JSON."""
    if report_path.exists():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        report["baseline"] = {**base, "model_beats_baseline": model_beats_baseline}
        atomic_write_text(report_path, json.dumps(report, indent=1))


def label_ids(classes: Sequence, labels: Sequence) -> np.ndarray:
    """Class ids of ``labels`` (compared as text, so a file's "1" matches a class 1), -1 for
    labels the model never saw; a warning says how many there are."""
    index = {str(c): k for k, c in enumerate(classes)}
    ids = np.array([index.get(str(t), -1) for t in labels], dtype=np.int64)
    unseen = int((ids < 0).sum())
    if unseen and unseen == len(ids):
        known = ", ".join(map(str, list(classes)[:8])) + (" ..." if len(classes) > 8 else "")
        found = ", ".join(sorted({str(t) for t in labels})[:8])
        raise DataError(f"none of the {len(ids)} labels was seen in training, so nothing can be scored (the model "
                        f"knows {known}; the file has {found}): is the label column the right one?")
    if unseen:
        names = ", ".join(sorted({str(t) for t, i in zip(labels, ids) if i < 0})[:5])
        console.print(f"[yellow]{unseen} of {len(ids)} labels were never seen in training ({names}); those examples "
                      "are left out of the scores[/]", highlight=False)
    return ids


def report_predictions(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence, out_dir: Path | None,
                       name: str, unit: str = "examples") -> dict:
    """Print and save metrics for class ids ``y_true``/``y_pred`` (``classes`` names them)."""
    names = [str(c) for c in classes]
    k = len(names)
    metrics = classification_metrics(y_true, y_pred, k)
    cm = confusion_matrix(y_true, y_pred, k)
    rows = per_class_report(cm, names)
    console.print(f"[bold]{name}[/]: {len(y_true)} {unit}  accuracy {metrics['accuracy']:.2%}  "
                  f"balanced accuracy {metrics['balanced_accuracy']:.2%}  macro-F1 {metrics['macro_f1']:.3f}",
                  highlight=False)
    table = Table("class", "precision", "recall", "F1", "support", title=f"{name}: per class", title_justify="left")
    for r in rows:
        if r["support"] or cm[:, names.index(r["class"])].any():
            table.add_row(r["class"], f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}",
                          str(r["support"]))
    console.print(table)
    report = {**metrics, "n": int(len(y_true)), "per_class": rows, "confusion_matrix": cm.tolist(),
              "classes": names}
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / f"{name}_report.json", json.dumps(report, indent=1))
        from rnnkit.tasks.io import plot_confusion_matrix

        png = plot_confusion_matrix(cm, names, out_dir / f"{name}_confusion.png", title=f"{name} confusion matrix")
        console.print(f"report: {out_dir / f'{name}_report.json'}" + (f", confusion matrix: {png}" if png else ""),
                      highlight=False)
    return report


def report_fit(estimator, out: Path, command: str, use: str = "predict") -> None:
    """After ``classify``/``tag``/``recognize train``: why training stopped, where the model
    is, the ``use`` subcommand that applies it, and, for an interrupted run, how to continue it
    (exit code 130, as after Ctrl-C)."""
    console.print(f"training stopped: {estimator.stopped_because_}; {estimator.best_loss_text()} "
                  f"{estimator.best_valid_loss_:.4f}", highlight=False)
    console.print(f"model: {out / 'model.safetensors'}\n{use} with: rnnkit {command} {use} "
                  f"{out / 'model.safetensors'} FILE", highlight=False)
    exit_if_interrupted(estimator, out)


def exit_if_interrupted(estimator, out: Path) -> None:
    """An interrupted fit (Ctrl-C, saved): say how to continue it and exit 130, as after Ctrl-C."""
    import typer

    if estimator.stopped_because_ == "interrupted":
        console.print(f"interrupted; continue with the same command plus --resume (run folder {out})",
                      highlight=False)
        raise typer.Exit(code=130)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Write rows to ``path`` (UTF-8, a header line first), atomically."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return atomic_write_text(path, buf.getvalue())
