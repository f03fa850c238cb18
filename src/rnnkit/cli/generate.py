"""``rnnkit generate``: conditioned sentence generation as its own command group
(``rnnkit lm train --condition-col`` / ``lm generate --condition`` remain as aliases)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnnkit.cli.common import Help, model_defaults, user_errors
from rnnkit.cli.conditioned import generate_conditioned, train_conditioned
from rnnkit.tasks.conditioned_lm import ConditionedGenerator

app = typer.Typer(help="Conditioned generation: a label (or feature vector) in, a sentence out.",
                  no_args_is_help=True)


@app.command()
@user_errors
@model_defaults(ConditionedGenerator)
def train(
    file: Path = typer.Argument(..., help="Labelled sentences: label-first lines (SST) or a CSV/TSV with a header; "
                                          "or data:sst2."),
    condition_col: Optional[str] = typer.Option(None, help="The label column (or 'label' for label-first lines)."),
    feature_cols: Optional[str] = typer.Option(None, help="Condition on feature vectors: comma-separated numeric "
                                               "columns (instead of --condition-col)."),
    text_col: str = typer.Option("text", help="The sentence column of a table."),
    valid: Optional[Path] = typer.Option(None, help="Validation file in the same format."),
    out: Path = typer.Option(Path("runs/generate"), "--out", "-o", help="Run folder: checkpoints, metrics."),
    resume: bool = typer.Option(False, help=Help.RESUME),
    overwrite: bool = typer.Option(False, help=Help.OVERWRITE),
    allow_changed_data: bool = typer.Option(False, help=Help.ALLOW_CHANGED_DATA),
    tokenizer: Optional[str] = typer.Option(None, help="simple (words and punctuation), whitespace, char or "
                                  "sentencepiece."),
    cell: Optional[str] = typer.Option(None, help=Help.CELL),
    hidden_size: Optional[int] = typer.Option(None, "--hidden", help="Units per recurrent layer."),
    num_layers: Optional[int] = typer.Option(None, "--layers", help=Help.LAYERS),
    zoneout: Optional[float] = typer.Option(None, help=Help.ZONEOUT),
    epochs: Optional[int] = typer.Option(None, help="Maximum passes over the sentences."),
    lr: Optional[float] = typer.Option(None, help="Learning rate."),
    max_time: Optional[float] = typer.Option(None, help=Help.MAX_TIME),
    seed: Optional[int] = typer.Option(None, help=Help.SEED),
    device: Optional[str] = typer.Option(None, help=Help.DEVICE),
    precision: Optional[str] = typer.Option(None, help=Help.PRECISION),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or samples."),
) -> None:
    """Learn p(sentence | label) from labelled sentences."""
    if not condition_col and not feature_cols:
        condition_col = "label"
    train_conditioned([file], valid, out, resume, overwrite, condition_col, feature_cols, text_col,
                      tokenizer or ConditionedGenerator.defaults()["tokenizer"],
                      dict(cell=cell, hidden_size=hidden_size, num_layers=num_layers, zoneout=zoneout, epochs=epochs,
                           lr=lr, max_time=max_time, seed=seed, device=device, precision=precision), quiet,
                      allow_changed_data)


@app.command()
@user_errors
def sample(
    checkpoint: Path = typer.Argument(..., help="A conditioned generator (RUN/model.safetensors)."),
    condition: Optional[str] = typer.Option(None, "--condition", "-c", help="The label (or comma-separated "
                                            "feature values) to generate for."),
    samples: int = typer.Option(1, "--samples", "-s", min=1, help="Sentences to generate."),
    temperature: float = typer.Option(0.8, "--temperature", "-t", min=0.0, help="Softmax temperature; 0 = greedy."),
    top_k: Optional[int] = typer.Option(None, min=1, help="Sample only from the k most likely tokens."),
    top_p: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="Nucleus sampling."),
    seed: Optional[int] = typer.Option(None, help="Random seed for reproducible samples."),
    length: Optional[int] = typer.Option(None, "--length", "-n", min=1, help="At most this many tokens each."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
) -> None:
    """Generate sentences for a label (or feature vector)."""
    generate_conditioned(checkpoint, condition, samples, temperature, top_k, top_p, seed, device, length)
