"""The ``rnnkit`` command: one thin, typed sub-command per verb."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from rnnkit._version import __version__
from rnnkit.cli.common import apply_option_ranges, console, err_console, user_errors

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
    from rnnkit.tasks.runs import checkpoint_summary

    n_params, meta = checkpoint_summary(checkpoint)
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
    from rnnkit.tasks.runs import run_report

    console.print(f"report: {run_report(run_dir, out, samples, length)}", highlight=False)


def _register_subcommands() -> None:
    # Each task's commands live in their own module; importing them here keeps this file thin.
    from rnnkit.cli import cache as cache_cli
    from rnnkit.cli import classify as classify_cli
    from rnnkit.cli import demo as demo_cli
    from rnnkit.cli import export as export_cli
    from rnnkit.cli import forecast as forecast_cli
    from rnnkit.cli import generate as generate_cli
    from rnnkit.cli import inspect as inspect_cli
    from rnnkit.cli import lm as lm_cli
    from rnnkit.cli import music as music_cli
    from rnnkit.cli import serve as serve_cli
    from rnnkit.cli import tag as tag_cli
    from rnnkit.cli import translate as translate_cli

    app.add_typer(lm_cli.app, name="lm")
    app.add_typer(classify_cli.app, name="classify")
    app.add_typer(tag_cli.app, name="tag")
    app.add_typer(forecast_cli.app, name="forecast")
    app.add_typer(music_cli.app, name="music")
    app.add_typer(translate_cli.app, name="translate")
    app.add_typer(generate_cli.app, name="generate")
    app.add_typer(inspect_cli.app, name="inspect")
    app.add_typer(cache_cli.app, name="cache")
    app.command(name="demo")(demo_cli.demo)
    app.command(name="export")(export_cli.export)
    app.command(name="serve")(serve_cli.serve)


_register_subcommands()
apply_option_ranges(app)


def main() -> None:
    """The ``rnnkit`` script: a usage mistake (unknown option, bad value, missing argument) is
    one ``error:`` line and exit code 2, like every other user error."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:  # Ctrl-C outside training
        err_console.print("aborted")
        sys.exit(130)
    except typer.TyperException as e:
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as typer shows it
            typer.echo(e.format_message(), err=True)
            sys.exit(e.exit_code)
        message = " ".join(e.format_message().split())
        hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        err_console.print(f"[bold red]error:[/] {message}{hint}", highlight=False, soft_wrap=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
