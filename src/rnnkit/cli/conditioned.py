"""The conditioned sentence generator behind ``rnnkit generate train|sample`` (and the aliases
``rnnkit lm train --condition-col`` / ``rnnkit lm generate --condition``)."""

from __future__ import annotations

from pathlib import Path

import typer

from rnnkit.cli.common import check_run_folder, console, data_splits
from rnnkit.cli.reports import exit_if_interrupted, verdict
from rnnkit.errors import ConfigError, DataError


def _read(path: Path, condition_col: str | None, feature_cols: list[str] | None, text_col: str):
    from rnnkit.tasks.io import read_conditioned_text

    data = read_conditioned_text(path, condition_col, text_col, feature_cols)
    return data.texts, (data.labels if data.labels is not None else data.features)


def train_conditioned(files: list[Path], valid: Path | None, out: Path, resume: bool, overwrite: bool,
                      condition_col: str | None, feature_cols: str | None, text_col: str, tokenizer: str,
                      options: dict, quiet: bool, allow_changed_data: bool = False) -> None:
    """Fit a :class:`~rnnkit.tasks.conditioned_lm.ConditionedGenerator` on one labelled file."""
    from rnnkit.tasks.conditioned_lm import ConditionedGenerator
    from rnnkit.tasks.io import perplexity

    if len(files) != 1:
        raise ConfigError("conditioned generation trains on one labelled file (give --valid for a second)")
    if condition_col and feature_cols:
        raise ConfigError("give --condition-col (a label) or --feature-cols (numbers), not both")
    cols = [c.strip() for c in feature_cols.split(",") if c.strip()] if feature_cols else None
    check_run_folder(out, resume, overwrite)
    file, valid, _ = data_splits(files[0], valid, None)  # data:NAME (data:sst2) brings its valid file
    texts, conditions = _read(file, condition_col, cols, text_col)
    valid_texts, valid_conditions = _read(valid, condition_col, cols, text_col) if valid else (None, None)
    params = {k: v for k, v in options.items() if v is not None}
    gen = ConditionedGenerator(tokenizer=tokenizer, verbose=not quiet, run_dir=str(out), **params)
    gen.fit(texts, conditions, valid_texts, valid_conditions, resume=resume, overwrite=overwrite,
            allow_changed_data=allow_changed_data)
    exit_if_interrupted(gen, out)
    console.print(f"stopped: {gen.stopped_because_}; {gen.best_loss_text()} {gen.best_valid_loss_:.4f} nats/token "
                  f"(perplexity {perplexity(gen.best_valid_loss_):.2f})", soft_wrap=True)
    base = gen.unigram_valid_loss_
    if base is not None:
        console.print(f"baseline: a unigram model of the training sentences' words, {base:.4f} nats/token on the "
                      f"same sentences (perplexity {perplexity(base):.2f}): "
                      f"{verdict(gen.best_valid_loss_, base, False)}", soft_wrap=True, highlight=False)
    if gen.classes_ is not None:
        for label in gen.classes_[:10]:
            console.print(f"[bold]{label}[/]: {gen.generate(label, n=1, temperature=0.8, seed=0)[0]}",
                          highlight=False)
    console.print(f"saved {out / 'model.safetensors'}; "
                  f"generate with: rnnkit generate sample {out / 'model.safetensors'} "
                  f"--condition {gen.classes_[0] if gen.classes_ is not None else '<values>'}",
                  highlight=False, soft_wrap=True)


def generate_conditioned(checkpoint: Path, condition: str | None, samples: int, temperature: float,
                         top_k: int | None, top_p: float | None, seed: int | None, device: str,
                         max_length: int | None) -> None:
    from rnnkit.tasks.conditioned_lm import ConditionedGenerator

    gen = ConditionedGenerator.load(checkpoint, device=device)
    if condition is None:
        known = ", ".join(gen.classes_.tolist()) if gen.classes_ is not None else f"{gen.n_features_in_} numbers"
        raise ConfigError(f"this generator needs --condition ({known})")
    if gen.classes_ is not None:
        if condition not in set(gen.classes_.tolist()):
            raise DataError(f"unknown condition {condition!r}; the model knows {', '.join(gen.classes_.tolist())}")
        value: str | list[float] = condition
    else:
        try:
            value = [float(v) for v in condition.split(",")]
        except ValueError:
            raise DataError(f"--condition must be {gen.n_features_in_} comma-separated numbers, "
                            f"got {condition!r}") from None
    for sentence in gen.generate(value, n=samples, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                                 max_length=max_length):
        typer.echo(sentence)
