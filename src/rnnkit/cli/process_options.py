"""Options of the process rather than of a model, put on every command at once.

* ``--threads N`` on every command: torch's CPU threads (default: torch's choice, one per
  core). One thread is the right choice on a machine whose cores other work keeps busy,
  and for batch-1 streaming; the trainer records the count in its checkpoints.
* ``--nproc N`` on every ``train`` command: start N processes of the same command on this
  machine, as ``torchrun --standalone --nproc-per-node N -m rnnkit ...`` would (data
  parallelism; see :mod:`rnnkit.training.distributed`); torchrun itself works unchanged,
  and is the way to several machines.

Under torchrun (or ``--nproc``) a ``train`` command joins the process group, only rank 0
prints and writes, and the other ranks end when training ends.
"""

from __future__ import annotations

import functools
import inspect
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Callable, Optional

import typer

THREADS_HELP = ("CPU threads for torch (default: torch's choice, one per core); 1 is best when other work keeps "
                "the cores busy.")
NPROC_HELP = ("Train with N processes on this machine (data parallel, as torchrun --nproc-per-node N); "
              "each takes 1/N of every batch.")


def add_process_options(app: typer.Typer) -> None:
    """Give every command of ``app`` (and its groups) ``--threads``, and every ``train``
    command ``--nproc``; commands with a ``threads`` option of their own keep theirs."""
    for command in app.registered_commands:
        callback = command.callback
        if callback is None or getattr(callback, "_process_options", False):
            continue
        name = command.name or callback.__name__
        command.callback = with_process_options(callback, train=name == "train")
    for group in app.registered_groups:
        if group.typer_instance is not None:
            add_process_options(group.typer_instance)


def with_process_options(fn: Callable[..., Any], train: bool) -> Callable[..., Any]:
    """``fn`` with the process options added to its signature (which typer reads)."""
    signature = inspect.signature(fn, eval_str=True)
    extra: list[inspect.Parameter] = []
    own_threads = "threads" in signature.parameters
    if not own_threads:
        extra.append(inspect.Parameter("threads", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[int],
                                       default=typer.Option(None, "--threads", min=1, help=THREADS_HELP)))
    if train:
        extra.append(inspect.Parameter("nproc", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[int],
                                       default=typer.Option(None, "--nproc", min=1, help=NPROC_HELP)))

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        threads = None if own_threads else kwargs.pop("threads", None)
        nproc = kwargs.pop("nproc", None)
        # read from the environment here: a command that needs no torch does not load it
        under_torchrun = int(os.environ.get("WORLD_SIZE", "1") or 1) > 1
        if nproc is not None and nproc > 1 and not under_torchrun:
            raise typer.Exit(code=launch(nproc))
        if threads is not None:
            from rnnkit.tasks.io import set_threads

            set_threads(threads)
        if not (train and under_torchrun):
            return fn(*args, **kwargs)
        return _as_rank(fn, args, kwargs)

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra])
    wrapper.__annotations__ = {**{p.name: p.annotation for p in signature.parameters.values()},
                               **{p.name: p.annotation for p in extra}}
    wrapper._process_options = True  # type: ignore[attr-defined]
    return wrapper


def _as_rank(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Run a ``train`` command as one rank of a torchrun group."""
    from rnnkit.cli.common import console
    from rnnkit.tasks.io import SecondaryRankDone, end_secondary_ranks_after_fit, env_ranks, leave_process_group

    end_secondary_ranks_after_fit()
    if not env_ranks().primary:
        console.quiet = True  # one voice: rank 0's (errors still come from every rank)
    try:
        return fn(*args, **kwargs)
    except SecondaryRankDone:
        return None
    finally:
        leave_process_group()


# ---------------------------------------------------------------------------- the launcher
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _argv_without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


#: seconds the other ranks get to end on their own (with their one-line error) after one failed
GRACE = 30.0


def launch(nproc: int, argv: list[str] | None = None) -> int:
    """Start ``nproc`` ranks of this command on this machine and wait for them; returns the
    exit code (the first failing rank's). A rank that fails makes the others fail at their
    next collective; any still running after :data:`GRACE` seconds are stopped."""
    argv = _argv_without_nproc(list(sys.argv[1:] if argv is None else argv))
    port = _free_port()
    procs = []
    for rank in range(nproc):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(nproc),
               "LOCAL_WORLD_SIZE": str(nproc), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        procs.append(subprocess.Popen([sys.executable, "-m", "rnnkit", *argv], env=env))
    failed_at: float | None = None
    code = 0
    try:
        while True:
            codes = [p.poll() for p in procs]
            bad = [c for c in codes if c not in (None, 0)]
            if bad and failed_at is None:
                failed_at, code = time.monotonic(), bad[0]
            if all(c is not None for c in codes):
                break
            if failed_at is not None and time.monotonic() - failed_at > GRACE:
                for p in procs:
                    if p.poll() is None:
                        p.terminate()
            time.sleep(0.1)
    except KeyboardInterrupt:
        # Ctrl-C in a terminal reaches every rank too: they save and stop together; a signal
        # sent to this process alone is passed on once the ranks have not ended on their own
        deadline = time.monotonic() + GRACE
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.1)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait()
        code = 130
    if code < 0:  # killed by a signal: the shell's convention
        code = 128 - code
    return code


__all__ = ["add_process_options", "with_process_options", "launch", "THREADS_HELP", "NPROC_HELP"]
