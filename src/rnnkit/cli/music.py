"""``rnnkit music``: polyphonic piano-roll models: train, evaluate, generate MIDI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from rnnkit.cli.common import (
    Help,
    check_run_folder,
    console,
    data_path,
    given,
    model_defaults,
    never_if_zero,
    scoring_path,
    user_errors,
)
from rnnkit.cli.reports import beats, exit_if_interrupted, verdict
from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.io import atomic_write_text
from rnnkit.tasks.music import MusicModeler

app = typer.Typer(help="Polyphonic music (88-key piano rolls): JSB Chorales .json, Coconet .npz, MIDI files.",
                  no_args_is_help=True)


@app.command()
@user_errors
@model_defaults(MusicModeler)
def train(
    data: Path = typer.Argument(...,
                              help="JSB .json (train/valid/test), Coconet .npz, a .mid file or a folder of them."),
    steps_per_quarter: Optional[int] = typer.Option(None, help="MIDI input: grid steps per quarter note."),
    cell: Optional[str] = typer.Option(None, help=Help.CELL),
    hidden_size: Optional[int] = typer.Option(None, "--hidden", help="Units per recurrent layer."),
    num_layers: Optional[int] = typer.Option(None, "--layers", help=Help.LAYERS),
    dropout: Optional[float] = typer.Option(None, help="Dropout between layers and before the output layer."),
    zoneout: Optional[float] = typer.Option(None, help=Help.ZONEOUT),
    epochs: Optional[int] = typer.Option(None, help="Maximum passes over the training pieces."),
    batch_size: Optional[int] = typer.Option(None, help="Pieces per batch."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate."),
    clip: Optional[float] = typer.Option(None, help=Help.CLIP),
    early_stopping: Optional[int] = typer.Option(None, help=Help.EARLY_STOPPING),
    max_time: Optional[float] = typer.Option(None, help=Help.MAX_TIME),
    checkpoint_every: Optional[int] = typer.Option(None, help=Help.CHECKPOINT_EVERY),
    seed: Optional[int] = typer.Option(None, help=Help.SEED),
    device: Optional[str] = typer.Option(None, help=Help.DEVICE),
    precision: Optional[str] = typer.Option(None, help=Help.PRECISION),
    out: Path = typer.Option(Path("runs/music"), "--out", "-o", help="Run folder: checkpoints, metrics, report."),
    resume: bool = typer.Option(False, help=Help.RESUME),
    overwrite: bool = typer.Option(False, help=Help.OVERWRITE),
    allow_changed_data: bool = typer.Option(False, help=Help.ALLOW_CHANGED_DATA),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=Help.QUIET),
) -> None:
    """Train a piano-roll model; report NLL per step and frame accuracy on the test pieces."""
    check_run_folder(out, resume, overwrite)
    model = MusicModeler(**given(
        steps_per_quarter=steps_per_quarter, cell=cell, hidden_size=hidden_size, num_layers=num_layers,
        dropout=dropout, zoneout=zoneout, epochs=epochs,
        batch_size=batch_size, lr=lr, clip=clip, seed=seed, device=device,
        precision=precision, max_time=max_time, checkpoint_every=checkpoint_every),
        **never_if_zero(early_stopping=early_stopping), verbose=not quiet, run_dir=str(out))
    data = data_path(data) or data  # data:NAME
    splits = model.read(data)
    counts = ", ".join(f"{k} {len(v)} pieces / {sum(len(p) for p in v)} steps" for k, v in splits.items() if v)
    console.print(f"data: {counts}", highlight=False)
    model.fit(data, splits=splits, resume=resume, overwrite=overwrite,
            allow_changed_data=allow_changed_data)
    exit_if_interrupted(model, out)
    console.print(f"trained: {model.stopped_because_}; model: {out / 'model.safetensors'}", highlight=False)
    from rnnkit.tasks.io import markov_key_baseline

    report = {split: model.evaluate(splits[split]) for split in ("valid", "test") if splits.get(split)}
    for split, r in report.items():
        # beside the model, the same figures of a Markov chain per key fitted on the training pieces
        base = markov_key_baseline(splits["train"], splits[split])
        console.print(f"{split}: NLL per step {r['nll']:.3f} nats, frame accuracy {r['frame_accuracy']:.3f} "
                      f"({r['steps']} steps); baseline, {base['name']}: NLL {base['nll']:.3f}, frame accuracy "
                      f"{base['frame_accuracy']:.3f}: {verdict(r['nll'], base['nll'], False)}", highlight=False)
        r["baseline"] = {**base, "model_beats_baseline": beats(r["nll"], base["nll"], False)}
    atomic_write_text(out / "test_report.json", json.dumps(report, indent=1))


@app.command()
@user_errors
def evaluate(
    checkpoint: Path = typer.Argument(..., help="A music checkpoint (RUN/best.safetensors)."),
    data: Path = typer.Argument(..., help="Pieces to score (.json, .npz, .mid or a folder)."),
    split: str = typer.Option("test", help="Which split of a .json/.npz file (MIDI files are all 'train')."),
    steps_per_quarter: int = typer.Option(4, help="MIDI input: grid steps per quarter note."),
) -> None:
    """Negative log-likelihood per time step and frame-level accuracy."""
    from rnnkit.tasks import music
    from rnnkit.tasks.io import read_music

    data = scoring_path(data)  # data:NAME
    splits = read_music(data, steps_per_quarter)
    if split not in splits:
        raise ConfigError(f"--split must be train, valid or test, got {split!r}")
    pieces = splits[split] or (splits["train"] if data.suffix.lower() not in (".json", ".npz") else [])
    if not pieces:
        raise DataError(f"{data} has no {split} pieces")
    r = music.load(checkpoint).evaluate(pieces)
    console.print(f"NLL per step {r['nll']:.4f} nats, frame accuracy {r['frame_accuracy']:.4f} "
                  f"({len(pieces)} pieces, {r['steps']} steps)", highlight=False)


@app.command()
@user_errors
def generate(
    checkpoint: Path = typer.Argument(..., help="A music checkpoint (RUN/best.safetensors)."),
    output: Path = typer.Option(Path("generated.mid"), "--output", "-o", help="The MIDI file to write."),
    length: int = typer.Option(64, help="Steps to generate after the seed."),
    prime: Optional[Path] = typer.Option(None, help="Take the first --prime-steps chords of a piece from this file."),
    prime_steps: int = typer.Option(4, help="How many chords of --prime to start from."),
    piece: int = typer.Option(0, help="Which test piece of a .json/.npz --prime file."),
    temperature: float = typer.Option(1.0, help="Below 1: fewer, surer notes; above 1: more adventurous."),
    steps_per_quarter: int = typer.Option(1, help="Grid of the written MIDI and of a MIDI --prime (JSB quarter "
                                          "data: 1)."),
    bpm: float = typer.Option(100.0, help="Tempo of the written MIDI."),
    seed: Optional[int] = typer.Option(None, help="Random seed for a reproducible piece."),
) -> None:
    """Sample a piece, optionally continuing a few chords of an existing one; write MIDI."""
    from rnnkit.tasks import music
    from rnnkit.tasks.io import read_music, write_midi

    if length < 1:
        raise ConfigError("--length must be at least 1")
    seed_roll = None
    if prime is not None:
        splits = read_music(scoring_path(prime), steps_per_quarter)
        pieces = splits["test"] or splits["train"]
        if not 0 <= piece < len(pieces):
            raise DataError(f"{prime} has {len(pieces)} pieces; --piece {piece} is out of range")
        seed_roll = pieces[piece][:prime_steps]
    roll = music.load(checkpoint).generate(length, seed_roll, temperature, seed)
    path = write_midi(roll, output, steps_per_quarter=steps_per_quarter, bpm=bpm)
    console.print(f"{len(roll)} steps, {int(roll.sum())} note-steps, {roll.sum(1).mean():.1f} keys per step: {path}",
                  highlight=False)
