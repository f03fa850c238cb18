"""The ``rnnkit`` command: one thin, typed sub-command per verb."""

from __future__ import annotations

from pathlib import Path

import typer

from rnnkit._version import __version__
from rnnkit.cli.common import console, user_errors

app = typer.Typer(
    name="rnnkit",
    help="Recurrent neural networks (LSTM, GRU, Elman) from raw sequences to trained, usable models.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"rnnkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """rnnkit: train, evaluate and use recurrent networks from the command line."""


@app.command()
@user_errors
def info(checkpoint: Path = typer.Argument(..., help="A checkpoint file written by rnnkit.")) -> None:
    """Show what a checkpoint holds: task, model configuration, training step and metrics."""
    from rnnkit.training.checkpoint import load_checkpoint

    ck = load_checkpoint(checkpoint)
    # Vocabularies and encoders can hold thousands of tokens: show their sizes, not their contents.
    codecs = ("vocab", "encoder", "codec", "src_codec", "tgt_codec")
    meta = {k: v for k, v in ck.meta.items() if k not in ("states", *codecs)}
    for key in codecs:
        if ck.meta.get(key):
            words = ck.meta[key].get("words", ck.meta[key])
            how = f", tokenizer {words['tokenizer']}" if words.get("tokenizer") else ""
            meta[key] = f"{len(words.get('tokens', []))} tokens{how}"
    n_params = sum(t.numel() for k, t in ck.tensors.items() if k.startswith("model/"))
    console.print(f"[bold]{checkpoint}[/]  ({n_params:,} model parameters)")
    for key, value in meta.items():
        console.print(f"  {key}: {value}", highlight=False)


@app.command()
@user_errors
def report(
    run_dir: Path = typer.Argument(..., help="A run folder (rnnkit lm/classify/tag train --out)."),
    out: Path = typer.Option(None, "--out", "-o", help="Where to write the page (default RUN_DIR/report.html)."),
    samples: int = typer.Option(3, help="Language models: how many samples to generate for the page."),
    length: int = typer.Option(300, help="Tokens per sample."),
) -> None:
    """Write one offline HTML page for a training run: configuration, curves, gradients, samples, plots."""
    from rnnkit.diagnostics.run_report import write_run_report

    console.print(f"report: {write_run_report(run_dir, out, _lm_samples(run_dir, samples, length))}",
                  highlight=False)


def _lm_samples(run_dir: Path, count: int, length: int) -> list[str]:
    """Samples from a language-model run's best checkpoint (temperature 0.8, seeds 0..count-1)."""
    ckpt = next((run_dir / n for n in ("best.safetensors", "last.safetensors") if (run_dir / n).exists()), None)
    if ckpt is None or count <= 0:
        return []
    from rnnkit.tasks import lm
    from rnnkit.training.checkpoint import load_checkpoint

    if load_checkpoint(ckpt).meta.get("task") != lm.TASK:
        return []
    trained = lm.load(ckpt)
    return [trained.generate(length=length, temperature=0.8, seed=seed) for seed in range(count)]


def _register_subcommands() -> None:
    # Each task's commands live in their own module; importing them here keeps this file thin.
    from rnnkit.cli import classify as classify_cli
    from rnnkit.cli import demo as demo_cli
    from rnnkit.cli import forecast as forecast_cli
    from rnnkit.cli import inspect as inspect_cli
    from rnnkit.cli import lm as lm_cli
    from rnnkit.cli import music as music_cli
    from rnnkit.cli import tag as tag_cli
    from rnnkit.cli import translate as translate_cli

    app.add_typer(lm_cli.app, name="lm")
    app.add_typer(classify_cli.app, name="classify")
    app.add_typer(tag_cli.app, name="tag")
    app.add_typer(forecast_cli.app, name="forecast")
    app.add_typer(music_cli.app, name="music")
    app.add_typer(translate_cli.app, name="translate")
    app.add_typer(inspect_cli.app, name="inspect")
    app.command(name="demo")(demo_cli.demo)


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
