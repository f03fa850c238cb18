"""What every CLI command shares: user errors as one line, a console for output, and the
estimators' own defaults for their options."""

from __future__ import annotations

import contextlib
import functools
import inspect
from pathlib import Path
from typing import Any, Callable, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from rnnkit.errors import RnnkitError

F = TypeVar("F", bound=Callable)

# the run-folder locks the running command holds (check_run_folder), released when it returns
_command_locks = contextlib.ExitStack()

console = Console()
err_console = Console(stderr=True)


class Help:
    """Help texts of the options every train command shares (one wording, one place)."""

    SEED = "Random seed."
    DEVICE = "auto, cpu, cuda, cuda:N or mps."
    ZONEOUT = ("Zoneout: each state unit keeps its previous value with this probability at every training step "
               "(Krueger et al. 2017); runs the step loop.")
    PRECISION = ("fp32, bf16 or fp16: autocast through the recurrent kernels (weights stay float32; fp16 scales "
                 "the loss). bf16 is faster on CPUs with AMX/AVX-512 bf16 and on recent GPUs.")
    OVERWRITE = "Replace a previous run in --out instead of refusing."
    CELL = ("Recurrent cell: lstm, gru, rnn_tanh, rnn_relu (torch's fused kernels); peephole_lstm, layernorm_lstm, "
            "slstm (step loop); mingru, minlstm, mlstm (parallel over time).")
    MAX_TIME = "Stop (and keep the best model) after this many seconds."
    LAYERS = "Stacked recurrent layers."
    RESUME = "Continue the interrupted run in --out."
    CLIP = "Clip the global gradient norm to this value."
    EARLY_STOPPING = "Stop after N epochs without a better validation loss (0: never)."
    QUIET = "No progress bar."
    CHECKPOINT_EVERY = "Steps between mid-epoch checkpoints (0: at epoch ends only)."
    ALLOW_CHANGED_DATA = "With --resume: continue although the training data differ from the run's."


def user_errors(fn: F) -> F:
    """Turn an ``RnnkitError`` (or a missing file) into ``error: <message>`` and exit code 2.

    Bugs keep their traceback; only mistakes a user can fix are shortened to one line.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with _command_locks:  # run-folder locks taken by the command end with it
                return fn(*args, **kwargs)
        except (RnnkitError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
                PermissionError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            if isinstance(e, OSError) and e.filename:
                msg = f"{e.strerror}: {e.filename}"
            err_console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def _shown(value: Any) -> str:
    return "off" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


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
            by_input = dict(getattr(estimator, "AUTO_DEFAULTS", {}).get(p.name, {}))
            with_encoder = getattr(estimator, "ENCODER_DEFAULTS", {})
            if p.name in with_encoder:
                by_input["--encoder"] = with_encoder[p.name]
            if value == "auto" and by_input:  # e.g. "auto: 128 for text, 64 for series, 0.2 with --encoder"
                info.show_default = "auto: " + ", ".join(
                    f"{_shown(v)} {'with' if kind.startswith('--') else 'for'} {kind}" for kind, v in by_input.items())
                continue
            info.show_default = _shown(value)
        return fn

    return decorate


#: The allowed values of every numeric option, by parameter name: the one declaration, put on
#: every command of the app (:func:`apply_option_ranges`), so a new option with a known name
#: cannot forget its range. ``ge``/``gt``/``le``/``lt`` bounds; a float option is also refused
#: when it is NaN or infinite.
OPTION_RANGES: dict[str, dict[str, float]] = {
    **{name: {"ge": 1} for name in (
        "batch_size", "eval_batch_size", "bptt", "epochs", "hidden_size", "num_layers", "embedding_size",
        "max_steps", "eval_max_tokens", "horizon", "context", "stride", "min_freq", "max_vocab", "sp_vocab_size",
        "max_length",
        "beam_size", "samples", "top_k", "steps_per_quarter", "max_tokens", "probes", "steps", "length",
        "input_size", "condition_size", "char_embedding", "char_hidden", "season", "max_chars", "subsample",
        "conv_channels", "beam", "sample_rate", "n_mels", "line_height")},
    **{name: {"ge": 0} for name in ("checkpoint_every", "early_stopping", "seed", "prime_steps", "piece",
                                    "temperature", "weight_decay", "momentum", "monitor_gradients",
                                    "sample_every", "decay_start", "min_lr", "patience", "forget_bias_min",
                                    "proj_size", "lm_order", "lm_weight")},
    **{name: {"gt": 0} for name in ("lr", "clip", "max_time", "bpm", "seconds", "decay")},
    **{name: {"ge": 0, "lt": 1} for name in ("dropout", "validation_fraction", "label_smoothing",
                                             "embedding_dropout", "weight_drop", "zoneout")},
    "teacher_forcing": {"ge": 0, "le": 1},
    "top_p": {"gt": 0, "le": 1},
    "init_range": {"gt": 0},
    "layer_lr_decay": {"ge": 1},
    "encoder_dropout": {"ge": 0, "le": 1},
}


def _range_text(bounds: dict[str, float]) -> str:
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return " and ".join(f"{words[k]} {v:g}" for k, v in bounds.items())


def _range_check(option: str, bounds: dict[str, float]) -> Callable[[Any], Any]:
    import math

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):  # None, or a list given as text
            return value
        bad = isinstance(value, float) and not math.isfinite(value)
        for k, b in bounds.items():
            bad = bad or {"ge": value < b, "gt": value <= b, "le": value > b, "lt": value >= b}[k]
        if bad:
            raise typer.BadParameter(f"must be {_range_text(bounds)}, got {value}", param_hint=f"'--{option}'")
        return value

    return check


def apply_option_ranges(app: typer.Typer) -> None:
    """Put :data:`OPTION_RANGES` on every option of every command of ``app`` (and its groups)."""
    for command in app.registered_commands:
        if command.callback is None:
            continue
        for p in inspect.signature(command.callback).parameters.values():
            info = p.default
            if isinstance(info, typer.models.OptionInfo) and p.name in OPTION_RANGES and info.callback is None:
                flag = next((d for d in info.param_decls or () if d.startswith("--")), "--" + p.name.replace("_", "-"))
                info.callback = _range_check(flag.lstrip("-").split("/")[0], OPTION_RANGES[p.name])
    for group in app.registered_groups:
        if group.typer_instance is not None:
            apply_option_ranges(group.typer_instance)


def data_path(spec: Path | str | None, role: str = "train") -> Path | None:
    """A path as given, or ``data:NAME`` (a public dataset, fetched into the cache) as the
    local path of its ``role`` file."""
    if spec is None:
        return None
    from rnnkit.tasks.io import resolve_data

    return resolve_data(str(spec), role)


def scoring_path(spec: Path | str) -> Path:
    """A file to score or predict on: a path as given, or ``data:NAME``'s test file (its only
    file when it has no test split; ``data:NAME:ROLE`` picks another)."""
    from rnnkit.tasks.io import has_data_role

    text = str(spec)
    local = data_path(text, "test" if has_data_role(text, "test") else "train")
    assert local is not None
    return local


def data_splits(train: Path | str, valid: Path | None, test: Path | None) -> tuple[Path, Path | None, Path | None]:
    """:func:`data_path` for a training file and its optional valid/test files; a dataset
    given for training brings its own valid and test files when those are not given."""
    from rnnkit.tasks.io import has_data_role

    spec = str(train)
    if valid is None and has_data_role(spec, "valid"):
        valid = data_path(spec, "valid")
    if test is None and has_data_role(spec, "test"):
        test = data_path(spec, "test")
    local = data_path(spec)
    assert local is not None
    return local, data_path(valid, "valid"), data_path(test, "test")


def given(**options: Any) -> dict[str, Any]:
    """The options the user gave (not ``None``): what a command passes to an estimator."""
    return {k: v for k, v in options.items() if v is not None}


def never_if_zero(**options: int | None) -> dict[str, Any]:
    """Options where 0 means "never" (``--early-stopping 0``): the estimator's ``None``;
    not given: left out, so the estimator's default applies."""
    return {k: (None if v == 0 else v) for k, v in options.items() if v is not None}


def check_run_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """Lock ``out`` until the command ends (one writer per run folder), then apply the
    library's run-folder rule, before any data is read (fail fast)."""
    from rnnkit.tasks.runs import check_run_folder as rule
    from rnnkit.tasks.runs import run_lock

    _command_locks.enter_context(run_lock(out))
    rule(out, resume, overwrite)
