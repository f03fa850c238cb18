"""``rnnkit recognize``: speech and text-line recognition with CTC, from files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from rnnkit.cli.common import (
    Help,
    check_run_folder,
    console,
    data_splits,
    given,
    model_defaults,
    never_if_zero,
    scoring_path,
    user_errors,
)
from rnnkit.cli.reports import report_fit, write_csv
from rnnkit.tasks.recognize import Recognizer

app = typer.Typer(help="Speech and text-line recognition with CTC: WAV recordings or line images with transcripts.",
                  no_args_is_help=True)

_TABLE_HELP = ("a CSV/TSV with a header naming a file column (file, path, audio, image) and a transcript column "
               "(text, transcript); paths relative to the table; or data:fsdd (spoken digits, its standard split)")


def _print_rates(rates: dict, what: str) -> None:
    console.print(f"{what}: CER {rates['cer']:.2%} ({rates['char_edits']} edits in {rates['chars']} characters), "
                  f"WER {rates['wer']:.2%} ({rates['word_edits']} in {rates['words']} words), "
                  f"{rates['exact']:.1%} exactly right", highlight=False)


@app.command()
@user_errors
@model_defaults(Recognizer)
def train(
    train_table: Path = typer.Option(..., "--train", help=f"Training files: {_TABLE_HELP}."),
    valid_table: Optional[Path] = typer.Option(None, "--valid", help="Held-out files to choose the epoch "
                                               "(default: --validation-fraction of --train)."),
    test_table: Optional[Path] = typer.Option(None, "--test", help="Test files: error rates after training, "
                                              "each transcription in test_transcripts.csv."),
    out: Path = typer.Option(Path("runs/recognize"), "--out", "-o", help="Run folder: model, checkpoints, reports."),
    resume: bool = typer.Option(False, help=Help.RESUME),
    overwrite: bool = typer.Option(False, help=Help.OVERWRITE),
    allow_changed_data: bool = typer.Option(False, help=Help.ALLOW_CHANGED_DATA),
    cell: Optional[str] = typer.Option(None, help=Help.CELL),
    hidden_size: Optional[int] = typer.Option(None, "--hidden", help="Units per recurrent layer and direction."),
    num_layers: Optional[int] = typer.Option(None, "--layers", help=Help.LAYERS),
    bidirectional: Optional[bool] = typer.Option(None, "--bidirectional/--unidirectional",
                                                 help="Read both directions (a unidirectional model streams)."),
    front_end: Optional[str] = typer.Option(None, help="none, stack (merge --subsample frames into one step), "
                                            "conv (two 1-D convolutions, the first with stride --subsample), "
                                            "conv2d (two 2-D convolutions over features x time, CRNN's) or auto "
                                            "(conv2d for line images, stack for audio)."),
    subsample: Optional[int] = typer.Option(None, help="Frames per recurrent step after the front end (default: 4 "
                                            "with conv2d, 1 with none, else 2)."),
    conv_channels: Optional[int] = typer.Option(None, help="Channels of the convolutional front end."),
    dropout: Optional[float] = typer.Option(None, help="Dropout between layers and before the output layer."),
    zoneout: Optional[float] = typer.Option(None, help=Help.ZONEOUT),
    spec_augment: Optional[bool] = typer.Option(None, "--spec-augment/--no-spec-augment",
                                                help="Mask random frequency bands and time spans while training "
                                                "(SpecAugment)."),
    sample_rate: Optional[int] = typer.Option(None, help="Audio: resample every recording to this rate (Hz)."),
    n_mels: Optional[int] = typer.Option(None, help="Audio: log-mel channels per frame."),
    audio_norm: Optional[str] = typer.Option(None, help="Audio: per-utterance normalisation, level (one mean and "
                                             "spread: keeps a short word's spectral shape) or channel (each "
                                             "mel channel on its own)."),
    line_height: Optional[int] = typer.Option(None, help="Images: scale every line to this height (pixels)."),
    beam: Optional[int] = typer.Option(None, help="Decoding: 1 = best path, more = prefix beam search."),
    lm_order: Optional[int] = typer.Option(None, help="Decoding: fuse a character n-gram of this order fitted on "
                                           "the training transcripts (0: none; needs --beam > 1 to matter)."),
    lm_path: Optional[Path] = typer.Option(None, "--lm", help="Decoding: fuse this character language model "
                                           "(rnnkit lm train --level char) instead of the n-gram."),
    lm_weight: Optional[float] = typer.Option(None, help="Decoding: weight of the language model's "
                                              "log-probability."),
    length_bonus: Optional[float] = typer.Option(None, help="Decoding: added per character (offsets the n-gram's "
                                                 "taste for short outputs)."),
    epochs: Optional[int] = typer.Option(None, help="Maximum passes over the training files."),
    batch_size: Optional[int] = typer.Option(None, help="Utterances per batch."),
    lr: Optional[float] = typer.Option(None, help="Learning rate."),
    optimizer: Optional[str] = typer.Option(None, help="sgd, adam or adamw."),
    weight_decay: Optional[float] = typer.Option(None, help="L2 penalty (decoupled for adamw)."),
    schedule: Optional[str] = typer.Option(None, help="constant, cosine, plateau or slanted."),
    clip: Optional[float] = typer.Option(None, help=Help.CLIP),
    early_stopping: Optional[int] = typer.Option(None, help=Help.EARLY_STOPPING),
    validation_fraction: Optional[float] = typer.Option(None, help="Held-out share of --train without --valid."),
    max_time: Optional[float] = typer.Option(None, help=Help.MAX_TIME),
    checkpoint_every: Optional[int] = typer.Option(None, help=Help.CHECKPOINT_EVERY),
    seed: Optional[int] = typer.Option(None, help=Help.SEED),
    device: Optional[str] = typer.Option(None, help=Help.DEVICE),
    precision: Optional[str] = typer.Option(None, help=Help.PRECISION),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=Help.QUIET),
) -> None:
    """Train a CTC recogniser on recordings or line images; with --test, report CER and WER."""
    check_run_folder(out, resume, overwrite)
    train_table, valid_table, test_table = data_splits(train_table, valid_table, test_table)
    rec = Recognizer(**given(
        cell=cell, hidden_size=hidden_size, num_layers=num_layers, bidirectional=bidirectional, front_end=front_end,
        subsample=subsample, conv_channels=conv_channels, dropout=dropout, zoneout=zoneout, spec_augment=spec_augment,
        sample_rate=sample_rate, n_mels=n_mels, audio_norm=audio_norm, line_height=line_height, beam=beam,
        lm_order=lm_order, lm_path=str(lm_path) if lm_path else None,
        lm_weight=lm_weight, length_bonus=length_bonus, epochs=epochs, batch_size=batch_size, lr=lr,
        optimizer=optimizer, weight_decay=weight_decay, schedule=schedule, clip=clip,
        validation_fraction=validation_fraction, max_time=max_time, checkpoint_every=checkpoint_every, seed=seed,
        device=device, precision=precision), **never_if_zero(early_stopping=early_stopping), verbose=not quiet,
        run_dir=str(out)).check_params()
    rec.fit_files(train_table, valid_table, resume=resume, overwrite=overwrite, allow_changed_data=allow_changed_data)
    console.print(f"alphabet: {len(rec.alphabet_)} characters; reads {rec.frame_spec_.kind} as "
                  f"{rec.n_features_in_} features per frame", highlight=False)
    if test_table is not None and rec.stopped_because_ != "interrupted":
        _evaluate_into(rec, test_table, out, "test")
    report_fit(rec, out, "recognize", use="transcribe")


def _evaluate_into(rec: Recognizer, table: Path, out: Path, name: str) -> dict:
    from rnnkit.tasks.io import atomic_write_text

    result = rec.evaluate_files(table)
    _print_rates(result, name)
    rows = result.pop("utterances")
    write_csv(out / f"{name}_transcripts.csv", ["file", "reference", "hypothesis"],
              [[r["file"], r["reference"], r["hypothesis"]] for r in rows])
    atomic_write_text(out / f"{name}_report.json", json.dumps(result, indent=1))
    return result


@app.command()
@user_errors
def evaluate(
    model: Path = typer.Argument(..., help="A recogniser (runs/recognize/model.safetensors)."),
    table: Path = typer.Argument(..., help=f"Files with transcripts: {_TABLE_HELP}."),
    beam: Optional[int] = typer.Option(None, help="Override the decoding beam (1 = best path)."),
    lm_path: Optional[Path] = typer.Option(None, "--lm", help="Fuse this character language model."),
    lm_weight: Optional[float] = typer.Option(None, help="Override the language model's weight."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write eval_transcripts.csv and eval_report.json "
                                       "here."),
) -> None:
    """Character and word error rates of a recogniser on a table of files."""
    table = scoring_path(table)  # data:NAME: its test table
    rec = Recognizer.load(model)
    rec.set_params(**given(beam=beam, lm_weight=lm_weight, lm_path=str(lm_path) if lm_path else None)).check_params()
    if out is None:
        result = rec.evaluate_files(table)
        result.pop("utterances")
        _print_rates(result, str(table))
        return
    out.mkdir(parents=True, exist_ok=True)
    _evaluate_into(rec, table, out, "eval")


@app.command()
@user_errors
def transcribe(
    model: Path = typer.Argument(..., help="A recogniser (runs/recognize/model.safetensors)."),
    files: List[Path] = typer.Argument(..., help="WAV recordings or line images, as the model was trained on."),
    beam: Optional[int] = typer.Option(None, help="Override the decoding beam (1 = best path)."),
) -> None:
    """Print the text of each file (file<TAB>text)."""
    rec = Recognizer.load(model)
    rec.set_params(**given(beam=beam)).check_params()
    for f, text in zip(files, rec.transcribe_files(files)):
        typer.echo(f"{f}\t{text}")
