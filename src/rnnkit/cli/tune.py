"""``rnnkit tune``: hyperparameter search with Optuna (see :mod:`rnnkit.tasks.tune`)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, List, Optional

import typer

from rnnkit.cli.common import console, data_splits, user_errors
from rnnkit.errors import ConfigError

TASKS = ("classify", "tag", "forecast", "lm", "music")


@user_errors
def tune(
    task: str = typer.Argument(..., help=f"What to tune: {', '.join(TASKS)}."),
    data: List[Path] = typer.Argument(..., help="Training data as the task's train command takes it (a labelled "
                                                "file, a CoNLL file, a table, text files, music), or data:NAME."),
    valid: Optional[Path] = typer.Option(None, "--valid", help="Validation file (classify, tag, lm)."),
    test: Optional[Path] = typer.Option(None, "--test", help="Test file, scored once for the best trial "
                                                             "(a forecast table has its own test rows)."),
    trials: int = typer.Option(20, "--trials", "-n", min=1,
                               help="Finished trials (complete or pruned) the study should have, over every "
                                    "process working on it."),
    storage: Optional[str] = typer.Option(None, help="Study database, an SQLAlchemy URL (sqlite:///f.db, "
                                                     "postgresql://user@host/db); default OUT/study.sqlite."),
    study: Optional[str] = typer.Option(None, help="Study name (default rnnkit-TASK); the same name continues it."),
    timeout: Optional[float] = typer.Option(None, min=0.0, help="Seconds after which no new trial starts."),
    space: Optional[List[str]] = typer.Option(None, "--space", "-s",
                                              help="Change the search space: name=low:high[:log], name=a,b,c, "
                                                   "name=value (fixed) or name=- (not searched); or a YAML/JSON "
                                                   "file of them. Repeatable."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Fix an estimator parameter for every trial: "
                                                                 "name=value (epochs=30, max_time=120, "
                                                                 "horizon=24, target=OT). Repeatable."),
    out: Path = typer.Option(Path("runs/tune"), "--out", "-o", help="Study folder: trial runs, study.sqlite, "
                                                                    "history.png."),
    seed: Optional[int] = typer.Option(None, help="Sampler seed (the same seed draws the same trials)."),
    prune: bool = typer.Option(True, "--prune/--no-prune", help="Stop trials whose validation loss falls behind "
                                                                "the median of earlier trials at the same step."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars inside trials."),
) -> None:
    """Search hyperparameters with Optuna: each trial trains the task's model, pruned on its
    validation loss; prints the best trial, its validation and test scores, and the train
    command that reproduces it. Several processes (or machines, with --storage on a shared
    database) can work on one study at once. Needs: pip install 'rnnkit\\[tune]'."""
    from rnnkit.tasks.tune import parse_dim, read_space_file, task_data
    from rnnkit.tasks.tune import tune as run_tune

    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose {', '.join(TASKS)}")
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError("rnnkit tune needs Optuna: pip install 'rnnkit[tune]'") from None
    changes: dict[str, Any] = {}
    for item in space or []:
        if "=" not in item:
            changes.update(read_space_file(item))
        else:
            name, spec = item.split("=", 1)
            changes[name.strip()] = parse_dim(spec)
    fixed = {}
    for item in set_ or []:
        if "=" not in item:
            raise ConfigError(f"--set takes name=value, got {item!r}")
        name, value = item.split("=", 1)
        fixed[name.strip()] = _set_value(value)
    files = list(data)
    given_valid, given_test = valid, test  # the reproducing command repeats what was typed: data:NAME brings its own
    first, valid, test = data_splits(files[0], valid, test)
    files[0] = first
    fit_data, scorer = task_data(task, files, valid, test, fixed)

    def show(trial: Any) -> None:
        state = trial.state.name.lower()
        value = f"{trial.value:.4f}" if trial.value is not None else trial.user_attrs.get("error", "")
        params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        console.print(f"trial {trial.number}: {state} {value}  ({params})", highlight=False, soft_wrap=True)

    result = run_tune(task, fit_data, trials=trials, out=out, storage=storage, study=study, timeout=timeout,
                      space=changes, fixed=fixed, test=scorer, seed=seed, pruning=prune, verbose=not quiet,
                      on_trial=show)
    console.print(f"study {result.study.study_name}: {result.finished} finished trials ({result.pruned} pruned)",
                  highlight=False)
    console.print(f"best trial: validation loss {result.best_value:.4f}  "
                  f"({', '.join(f'{k}={_short(v)}' for k, v in result.best_params.items())})",
                  highlight=False, soft_wrap=True)
    if result.test_scores:
        console.print("test: " + ", ".join(f"{k} {v:.4f}" for k, v in result.test_scores.items()), highlight=False)
        for name, score in result.test_scores.items():  # beside each score, its baseline's: say which wins
            base = result.test_scores.get(f"baseline_{name}")
            if base is not None:
                better = score > base if name == "accuracy" else score < base
                console.print(f"the best trial {'beats' if better else '[bold]does not beat[/]'} the baseline on "
                              f"test {name} ({score:.4f} vs {base:.4f})", highlight=False)
    console.print(f"model: {result.best_run_dir / 'model.safetensors'}", highlight=False)
    if result.plot:
        console.print(f"history: {result.plot}", highlight=False)
    console.print("reproduce with:", highlight=False)
    console.print("  " + train_command(task, [str(f) for f in data], given_valid, given_test, result.estimator_params),
                  highlight=False, soft_wrap=True)


def _set_value(text: str) -> Any:
    """``30`` -> 30, ``true`` -> True, ``OT`` -> "OT", ``a,b`` -> ["a", "b"]."""
    from rnnkit.tasks.tune import parse_value

    return [parse_value(v) for v in text.split(",")] if "," in text else parse_value(text)


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def train_command(task: str, data: list[str], valid: Path | None, test: Path | None, params: dict[str, Any]) -> str:
    """The ``rnnkit TASK train`` command with ``params`` as its options (read off the command's
    own options, so the flags are the ones it takes)."""
    from rnnkit.cli.groups import group_app

    command = typer.main.get_command(group_app(task)).commands["train"]  # type: ignore[attr-defined]
    by_name = {p.name: p for p in command.params if getattr(p, "param_type_name", "") == "option"}
    words = ["rnnkit", task, "train"]
    if task in ("classify", "tag"):
        words += ["--train", data[0]]
    else:
        words += data
    if valid:
        words += ["--valid", str(valid)]
    if test and task in ("classify", "tag", "lm"):
        words += ["--test", str(test)]
    for name, value in params.items():
        option = by_name.get(name)
        if option is None or value is None:
            continue
        if option.is_flag and option.secondary_opts:
            words.append(option.opts[0] if value else option.secondary_opts[0])
        elif option.is_flag:
            if value:
                words.append(option.opts[0])
        else:
            shown = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
            words += [option.opts[0], shown]
    return shlex.join(words)
