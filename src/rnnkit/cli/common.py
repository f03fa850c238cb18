"""What every CLI command shares: user errors as one line, a console for output, and the
estimators' own defaults for their options."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any, Callable, TypeVar

import typer
from rich.console import Console

from rnnkit.errors import RnnkitError

F = TypeVar("F", bound=Callable)

console = Console()
err_console = Console(stderr=True)


class Help:
    """Help texts of the options every train command shares (one wording, one place)."""

    SEED = "Random seed."
    DEVICE = "auto, cpu, cuda, cuda:N or mps."
    OVERWRITE = "Replace a previous run in --out instead of refusing."
    CELL = "Recurrent cell: lstm, gru, rnn_tanh or rnn_relu."
    MAX_TIME = "Stop (and keep the best model) after this many seconds."
    LAYERS = "Stacked recurrent layers."
    RESUME = "Continue the interrupted run in --out."
    CLIP = "Clip the global gradient norm to this value."
    EARLY_STOPPING = "Stop after N epochs without a better validation loss (0: never)."
    QUIET = "No progress bar."


def user_errors(fn: F) -> F:
    """Turn an ``RnnkitError`` (or a missing file) into ``error: <message>`` and exit code 2.

    Bugs keep their traceback; only mistakes a user can fix are shortened to one line.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (RnnkitError, FileNotFoundError, IsADirectoryError, PermissionError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            if isinstance(e, OSError) and e.filename:
                msg = f"{e.strerror}: {e.filename}"
            err_console.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def model_defaults(estimator: Any) -> Callable[[F], F]:
    """Options named after a parameter of ``estimator`` take its default: they must default
    to ``None`` here (so the estimator stays the one source of each default; a command that
    sets its own fails at import, in every test), and ``--help`` shows the estimator's value."""
    defaults = estimator.defaults()

    def decorate(fn: F) -> F:
        for p in inspect.signature(fn).parameters.values():
            info = p.default
            if not isinstance(info, typer.models.OptionInfo) or p.name not in defaults:
                continue
            if info.default is not None:
                raise TypeError(f"{fn.__module__}.{fn.__name__}: option {p.name} sets its own default "
                                f"({info.default!r}); leave it None so that {estimator.__name__}'s applies")
            value = defaults[p.name]
            info.show_default = "off" if value is None else str(value).lower() if isinstance(value, bool) \
                else str(value)
        return fn

    return decorate


def given(**options: Any) -> dict[str, Any]:
    """The options the user gave (not ``None``): what a command passes to an estimator."""
    return {k: v for k, v in options.items() if v is not None}


def never_if_zero(**options: int | None) -> dict[str, Any]:
    """Options where 0 means "never" (``--early-stopping 0``): the estimator's ``None``;
    not given: left out, so the estimator's default applies."""
    return {k: (None if v == 0 else v) for k, v in options.items() if v is not None}


def check_run_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """Lock ``out`` for this command (one writer per run folder), then apply the library's
    run-folder rule, before any data is read (fail fast)."""
    from rnnkit.tasks.runs import check_run_folder as rule
    from rnnkit.tasks.runs import hold_run_lock

    hold_run_lock(out)
    rule(out, resume, overwrite)
