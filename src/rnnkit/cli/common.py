"""What every CLI command shares: user errors as one line, and a console for output."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, TypeVar

import typer
from rich.console import Console

from rnnkit.errors import RnnkitError

F = TypeVar("F", bound=Callable)

console = Console()
err_console = Console(stderr=True)


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


def check_run_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """The library's run-folder rule, applied before any data is read (fail fast)."""
    from rnnkit.tasks.runs import check_run_folder as rule

    rule(out, resume, overwrite)
