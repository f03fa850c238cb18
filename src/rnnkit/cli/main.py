"""The ``rnnkit`` command: one thin, typed sub-command per verb."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from rnnkit._version import __version__
from rnnkit.cli.common import apply_option_ranges, console, err_console, user_errors
from rnnkit.cli.groups import LAZY_GROUPS, group_app
from rnnkit.cli.process_options import add_process_options


class _LazyGroup(TyperCommand):
    """A command group's stand-in: its name and one-line help for the listing; the real group
    is imported only when the command runs (so ``rnnkit --help`` never loads torch)."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, help=LAZY_GROUPS[name][1], callback=None)
        self._real: Any = None

    def real(self) -> Any:
        if self._real is None:
            self._real = typer.main.get_command(group_app(self.name or ""))
            self._real.name = self.name
        return self._real

    def make_context(self, info_name, args, parent=None, **extra):
        return self.real().make_context(info_name, args, parent=parent, **extra)


class _Root(TyperGroup):
    """The ``rnnkit`` group: direct commands, then the lazily loaded groups."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name in LAZY_GROUPS:
            self.commands.setdefault(name, _LazyGroup(name))

    def list_commands(self, ctx) -> list[str]:
        late = ("demo", "tune", "export", "serve")
        direct = [n for n in self.commands if n not in LAZY_GROUPS and n not in late]
        return [*direct[:2], *LAZY_GROUPS, *late, *direct[2:]]


app = typer.Typer(
    cls=_Root,
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


def _register_commands() -> None:
    # single commands from their own light modules; the groups are in LAZY_GROUPS
    from rnnkit.cli import demo as demo_cli
    from rnnkit.cli import export as export_cli
    from rnnkit.cli import serve as serve_cli
    from rnnkit.cli import tune as tune_cli

    app.command(name="demo")(demo_cli.demo)
    app.command(name="export")(export_cli.export)
    app.command(name="serve")(serve_cli.serve)
    app.command(name="tune")(tune_cli.tune)


_register_commands()
apply_option_ranges(app)
add_process_options(app)


#: narrower terminals get plain help text that wraps rather than boxes that truncate
RICH_HELP_MIN_COLUMNS = 100


def main() -> None:
    """The ``rnnkit`` script: a usage mistake (unknown option, bad value, missing argument) is
    one ``error:`` line and exit code 2, like every other user error."""
    import shutil

    from typer import core as typer_core

    rich_help = typer_core.HAS_RICH
    # rich's help boxes cut long option names short ("--validation-frac…") on narrow
    # terminals; click's plain help wraps instead
    typer_core.HAS_RICH = rich_help and shutil.get_terminal_size().columns >= RICH_HELP_MIN_COLUMNS
    try:
        code = _run()
    finally:
        typer_core.HAS_RICH = rich_help
    sys.exit(code)


def _run() -> int:
    try:
        code = app(standalone_mode=False)
    except typer.Abort:  # Ctrl-C outside training
        err_console.print("aborted")
        return 130
    except typer.TyperException as e:
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as typer shows it
            typer.echo(e.format_message(), err=True)
            return e.exit_code
        message = " ".join(e.format_message().split())
        hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        err_console.print(f"[bold red]error:[/] {escape(message + hint)}", highlight=False, soft_wrap=True)
        return 2
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    main()
