"""Hyperparameter search with Optuna: :func:`tune` (and ``rnnkit tune``).

Each trial draws hyperparameters from the task's search space (:data:`SPACES`, narrowed or
widened by the caller), fits the family's estimator into ``out/trial-NNNN`` and reports the
validation loss after every validation to Optuna's pruner, which stops trials that fall
behind the median of earlier ones at the same step. The objective is the best validation loss
(lower is better), never a test score: the test split is scored once, for the best trial.

The study lives in a database: SQLite (``out/study.sqlite``) by default, so an interrupted
search continues where it stopped when run again; any SQLAlchemy URL
(``postgresql://user@host/db``) lets processes on several machines work on one study at once.
``trials`` counts finished trials (complete or pruned) over every process: trial numbers are
handed out by the database, and a process that draws a number past the budget stops.

Search spaces are written as text, one dimension per name::

    hidden_size=32:256:log    an integer range (log scale)
    lr=1e-4:1e-2:log          a float range (any bound with '.', 'e' or a float value)
    dropout=0:0.5             a float range ("0:0.5": one bound is a float)
    cell=lstm,gru             a choice
    num_layers=2              fixed
    dropout=-                 removed: the estimator's default applies

or as a YAML/JSON file mapping names to such strings, to lists (choices), or to
``{low, high, log}``.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError, RnnkitError
from rnnkit.tasks import TASKS
from rnnkit.training.callbacks import Callback


@dataclass(frozen=True)
class Dim:
    """One searched hyperparameter: an int or float range (``log`` scale or not), or choices."""

    kind: str  # "int", "float" or "choice"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple = ()

    def suggest(self, trial: Any, name: str) -> Any:
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(name, self.low, self.high, log=self.log)
        return trial.suggest_categorical(name, list(self.choices))


def _int(low: int, high: int, log: bool = False) -> Dim:
    return Dim("int", low, high, log)


def _float(low: float, high: float, log: bool = False) -> Dim:
    return Dim("float", low, high, log)


def _choice(*values: Any) -> Dim:
    return Dim("choice", choices=tuple(values))


#: the default search space of each task: the dimensions that matter most for recurrent
#: models (size, depth, regularisation, learning rate), in ranges that hold across datasets
SPACES: dict[str, dict[str, Dim]] = {
    "classify": {"cell": _choice("lstm", "gru"), "hidden_size": _int(32, 256, log=True), "num_layers": _int(1, 2),
                 "dropout": _float(0.0, 0.5), "lr": _float(3e-4, 1e-2, log=True), "batch_size": _choice(16, 32, 64)},
    "tag": {"cell": _choice("lstm", "gru"), "hidden_size": _int(32, 256, log=True), "num_layers": _int(1, 2),
            "dropout": _float(0.0, 0.5), "lr": _float(3e-4, 1e-2, log=True), "embedding_size": _choice(50, 100, 200)},
    # the context is searched in multiples of the horizon (see _forecast_context)
    "forecast": {"cell": _choice("lstm", "gru"), "hidden_size": _int(16, 256, log=True), "num_layers": _int(1, 2),
                 "dropout": _float(0.0, 0.3), "lr": _float(3e-4, 1e-2, log=True),
                 "context_horizons": _choice(1, 2, 4, 8)},
    "lm": {"cell": _choice("lstm", "gru"), "hidden_size": _int(64, 1024, log=True), "num_layers": _int(1, 3),
           "dropout": _float(0.0, 0.5), "lr": _float(5e-4, 5e-3, log=True)},
    "music": {"cell": _choice("lstm", "gru"), "hidden_size": _int(32, 512, log=True), "num_layers": _int(1, 2),
              "dropout": _float(0.0, 0.5), "lr": _float(3e-4, 1e-2, log=True)},
}



def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and not any(c in text.lower() for c in ".e") else value


def parse_value(text: str) -> Any:
    """A command-line value: int, float, bool, none, or the text itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return _number(text.strip())
    except ValueError:
        return text.strip()


def parse_dim(text: str) -> Dim | Any | None:
    """``"a:b[:log]"`` -> a range, ``"x,y"`` -> a choice, ``"-"`` -> ``None`` (removed), else a
    fixed value."""
    text = text.strip()
    if text == "-":
        return None
    if ":" in text:
        parts = text.split(":")
        log = parts[-1].lower() == "log"
        if log:
            parts = parts[:-1]
        if len(parts) != 2:
            raise ConfigError(f"a range is low:high or low:high:log, got {text!r}")
        try:
            low, high = _number(parts[0]), _number(parts[1])
        except ValueError:
            raise ConfigError(f"a range needs numbers, got {text!r}") from None
        if low >= high:
            raise ConfigError(f"a range needs low < high, got {text!r}")
        if log and low <= 0:
            raise ConfigError(f"a log range needs a positive low bound, got {text!r}")
        is_int = isinstance(low, int) and isinstance(high, int)
        return Dim("int" if is_int else "float", low, high, log)
    if "," in text:
        return Dim("choice", choices=tuple(parse_value(v) for v in text.split(",") if v.strip()))
    return parse_value(text)


def read_space_file(path: str | Path) -> dict[str, Any]:
    """A YAML or JSON mapping of name -> spec string, list (choices) or ``{low, high, log}``."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"search-space file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
    except Exception as e:  # noqa: BLE001 -- any parse error is the user's file
        raise ConfigError(f"{path} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: "
                          f"{str(e).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must map parameter names to ranges or choices")
    out: dict[str, Any] = {}
    for name, spec in raw.items():
        if isinstance(spec, list):
            out[name] = Dim("choice", choices=tuple(spec))
        elif isinstance(spec, dict):
            try:
                out[name] = parse_dim(f"{spec['low']}:{spec['high']}" + (":log" if spec.get("log") else ""))
            except KeyError:
                raise ConfigError(f"{path}: {name} needs low and high") from None
        elif isinstance(spec, str):
            out[name] = parse_dim(spec)
        else:
            out[name] = spec  # a fixed number or bool
    return out


def build_space(task: str, changes: Mapping[str, Any] | None = None) -> tuple[dict[str, Dim], dict[str, Any]]:
    """``(searched, fixed)``: the task's default space with ``changes`` applied (a Dim
    replaces or adds a dimension, ``None`` removes one, anything else fixes the value)."""
    if task not in SPACES:
        raise ConfigError(f"unknown task {task!r} for tuning; choose {', '.join(SPACES)}")
    searched = dict(SPACES[task])
    fixed: dict[str, Any] = {}
    for name, spec in (changes or {}).items():
        searched.pop(name, None)
        if isinstance(spec, Dim):
            searched[name] = spec
        elif spec is not None:
            fixed[name] = spec
    return searched, fixed


#: a search whose trials fail this many times in a row stops (every draw fails: the data or
#: the fixed options are wrong, and more trials would only repeat the error)
MAX_FAILURES_IN_A_ROW = 3


class _OverBudget(RnnkitError):
    """A trial drawn after the study had its trials (a race between processes); it is failed."""


class PruneOnValidation(Callback):
    """Reports each validation loss to an Optuna trial; stops the fit when the pruner says so."""

    def __init__(self, trial: Any) -> None:
        self.trial, self.pruned = trial, False

    def on_validation(self, trainer: Any, record: dict[str, Any]) -> None:
        loss = float(record["loss"])
        if math.isfinite(loss):
            self.trial.report(loss, step=int(record["step"]))
        if self.trial.should_prune():
            self.pruned = True
            trainer.request_stop("pruned")


@dataclass
class TuneResult:
    """What a search found: the study, its best trial, and the best model on the test data."""

    study: Any
    best_params: dict[str, Any]
    best_value: float
    best_run_dir: Path
    estimator_params: dict[str, Any]
    test_scores: dict[str, float] = field(default_factory=dict)
    finished: int = 0
    pruned: int = 0
    plot: Path | None = None


def _estimator_params(task: str, params: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    """The estimator's keyword arguments for a trial (the forecaster's context is drawn as
    a multiple of its horizon)."""
    out = {**fixed, **params}
    if task == "classify":
        # a tuner compares trials on held-out data: the series defaults choose by training loss
        out.setdefault("validation_fraction", 0.1)
    if task == "forecast" and "context_horizons" in out:
        from rnnkit.tasks.forecast import Forecaster

        horizon = int(out.get("horizon", Forecaster.defaults()["horizon"]))
        out["context"] = horizon * int(out.pop("context_horizons"))
    return out


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / 'study.sqlite').resolve()}"


def open_study(storage: str | None, name: str, out: Path, seed: int | None, pruning: bool) -> Any:
    """Create or continue the study ``name`` in ``storage`` (an SQLAlchemy URL)."""
    import optuna

    url = storage or default_storage(out)
    if url.startswith("postgresql://"):  # SQLAlchemy's default driver is psycopg2; rnnkit's extra brings psycopg 3
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0, n_min_trials=3) if pruning
              else optuna.pruners.NopPruner())
    for attempt in range(8):
        try:
            backend = optuna.storages.RDBStorage(url, heartbeat_interval=30, grace_period=120,
                                                 engine_kwargs={"pool_pre_ping": True})
            return optuna.create_study(study_name=name, storage=backend, direction="minimize", load_if_exists=True,
                                       sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True),
                                       pruner=pruner)
        except Exception as e:  # noqa: BLE001 -- a bad URL or an unreachable database is the user's to fix
            # processes starting together race to create the tables (or the study): try again
            if attempt < 7 and any(w in str(e) for w in ("already exists", "locked", "UNIQUE constraint")):
                time.sleep(0.25 * (attempt + 1))
                continue
            raise ConfigError(f"cannot open the study storage {storage or url}: {str(e).splitlines()[0]}") from None
    raise AssertionError("unreachable")


def _counts(study: Any) -> tuple[int, int, int]:
    """``(finished, pruned, running)`` trials of the study (every process's)."""
    from optuna.trial import TrialState

    states = [t.state for t in study.get_trials(deepcopy=False)]
    finished = sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states)
    return finished, sum(s == TrialState.PRUNED for s in states), sum(s == TrialState.RUNNING for s in states)


def tune(task: str, data: Sequence[Any], *, trials: int = 20, out: str | Path = "runs/tune",
         storage: str | None = None, study: str | None = None, timeout: float | None = None,
         space: Mapping[str, Any] | None = None, fixed: Mapping[str, Any] | None = None,
         test: Callable[[Any], dict[str, float]] | None = None, seed: int | None = None, pruning: bool = True,
         verbose: bool = False, on_trial: Callable[[Any], None] | None = None) -> TuneResult:
    """Search ``task``'s hyperparameters on ``data`` (what the estimator's ``fit`` takes).

    ``space``: changes to :data:`SPACES` (name -> :class:`Dim`, a spec string, a fixed value,
    or ``None`` to drop); ``fixed``: estimator parameters every trial uses (epochs,
    max_time, horizon, ...). ``test(estimator)`` scores the best trial's model on held-out
    data. ``timeout``: seconds after which this process starts no new trial.
    """
    import optuna
    from optuna.trial import TrialState

    import rnnkit

    if trials < 1:
        raise ConfigError(f"trials must be at least 1, got {trials}")
    changes = {k: parse_dim(v) if isinstance(v, str) else v for k, v in (space or {}).items()}
    searched, fixed_space = build_space(task, changes)
    fixed_all = {**fixed_space, **(fixed or {})}
    cls = getattr(rnnkit, TASKS[task])  # the family's estimator, by the task name its checkpoints carry
    known = set(cls.defaults()) | ({"context_horizons"} if task == "forecast" else set())
    unknown = sorted(n for n in [*searched, *fixed_all] if n not in known)
    if unknown:
        raise ConfigError(f"{cls.__name__} has no parameter {', '.join(unknown)}")
    cls(**_estimator_params(task, {}, fixed_all)).check_params()  # a bad fixed value fails before any trial
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = study or f"rnnkit-{task}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    st = open_study(storage, name, out, seed, pruning)
    over_budget = False
    failures: dict[str, Any] = {"in_a_row": 0, "error": ""}

    def objective(trial: Any) -> float:
        nonlocal over_budget
        ahead = [t for t in st.get_trials(deepcopy=False)
                 if t.number < trial.number and t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)]
        if len(ahead) >= trials:  # another process took the last slot at the same moment
            over_budget = True
            trial.set_user_attr("skipped", "the study had its trials")
            raise _OverBudget("the study had its trials")
        params = {k: dim.suggest(trial, k) for k, dim in searched.items()}
        run_dir = out / f"trial-{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir.resolve()))
        pruner = PruneOnValidation(trial)
        try:
            est = cls(**_estimator_params(task, params, fixed_all), run_dir=str(run_dir), verbose=verbose)
            est.fit(*data, overwrite=True, callbacks=[pruner])
        except RnnkitError as e:  # a combination the data cannot take: the trial fails, the search goes on
            trial.set_user_attr("error", str(e).splitlines()[0])
            failures["in_a_row"] += 1
            failures["error"] = str(e).splitlines()[0]
            raise
        failures["in_a_row"] = 0
        if est.stopped_because_ == "interrupted":  # Ctrl-C: the trial fails, the study stops (and resumes later)
            raise KeyboardInterrupt
        if pruner.pruned:
            raise optuna.TrialPruned()
        return float(est.best_valid_loss_)

    def report(study_: Any, trial: Any) -> None:
        if on_trial is not None and "skipped" not in trial.user_attrs:
            on_trial(trial)

    started = time.monotonic()
    while not over_budget:
        finished, _, running = _counts(st)
        if finished + running >= trials or (timeout is not None and time.monotonic() - started >= timeout):
            break
        # one trial at a time: the budget is checked against every process's trials before each
        st.optimize(objective, n_trials=1, catch=(RnnkitError,), callbacks=[report], gc_after_trial=True)
        if failures["in_a_row"] >= MAX_FAILURES_IN_A_ROW:  # the data or the fixed options, not the draws
            raise ConfigError(f"{failures['in_a_row']} trials in a row failed; the last: {failures['error']}")
    finished, pruned, _ = _counts(st)
    if not any(t.state == TrialState.COMPLETE for t in st.get_trials(deepcopy=False)):
        raise ConfigError(f"no trial of study {name!r} completed; see the trials' errors in {out}")
    best = st.best_trial
    best_dir = Path(best.user_attrs["run_dir"])
    est_params = _estimator_params(task, dict(best.params), fixed_all)
    result = TuneResult(st, dict(best.params), float(best.value), best_dir, est_params, finished=finished,
                        pruned=pruned)
    if test is not None:
        result.test_scores = test(cls.load(best_dir / "model.safetensors"))
    result.plot = _plot_history(st, out / "history.png")
    return result


def task_data(task: str, train: Sequence[str | Path], valid: str | Path | None = None,
              test: str | Path | None = None, fixed: Mapping[str, Any] | None = None,
              ) -> tuple[tuple, Callable[[Any], dict[str, float]] | None]:
    """``(what fit takes, test scorer or None)`` for files given as a command gives them:
    classify and tag read labelled files (``--valid``/``--test`` files; without ``--valid``
    the estimator holds out its validation share); forecast reads one table and scores its
    test rows against the naive forecast; lm reads text files; music one file or folder
    (its test split)."""
    fixed = dict(fixed or {})
    if not train:
        raise ConfigError("no training data given")
    if task in ("classify", "tag"):
        from rnnkit.tasks.io import read_conll, read_labelled_file

        def read(path: str | Path) -> tuple[Any, Any]:
            if task == "tag":
                return read_conll(Path(path), "upos")
            d = read_labelled_file(Path(path), "auto", "label", None, None, "error")
            return d.X, d.y

        X, y = read(train[0])
        Xv, yv = read(valid) if valid else (None, None)
        scorer = None
        if test:
            Xt, yt = read(test)

            def labelled_test(est: Any) -> dict[str, float]:
                return {"accuracy": float(est.score(Xt, yt)), **_baseline_accuracy(task, X, y, Xt, yt)}

            scorer = labelled_test
        return (X, y, Xv, yv), scorer
    if task == "forecast":
        from rnnkit.tasks.forecast import Forecaster

        series = Forecaster(**{k: v for k, v in fixed.items() if k in Forecaster.defaults()}).read(train[0])

        def forecast_test(est: Any) -> dict[str, float]:
            m = est.backtest(series, "test").metrics
            return {"mse": m["model"]["mse"], "mae": m["model"]["mae"], "naive_mse": m["naive"]["mse"],
                    "mse_vs_naive": m["model"]["mse"] / m["naive"]["mse"] if m["naive"]["mse"] else math.nan}

        return (series,), forecast_test
    if task == "lm":
        def lm_test(est: Any) -> dict[str, float]:
            if not test:
                return {}
            scores = est.evaluate(test)
            return {"loss": float(scores["loss"]), "baseline_loss": float(scores["unigram_loss"])}

        # without a validation file the training text is split (90/5/5), and a test file is scored apart
        fit_test = str(test) if test and valid else None
        return ([str(p) for p in train], str(valid) if valid else None, fit_test), (lm_test if test else None)
    if task == "music":
        from rnnkit.tasks.io import read_music
        from rnnkit.tasks.music import MusicModeler

        splits = read_music(train[0], fixed.get("steps_per_quarter", MusicModeler.defaults()["steps_per_quarter"]))
        def music_test(est: Any) -> dict[str, float]:
            from rnnkit.tasks.io import markov_key_baseline

            return {"nll": float(est.evaluate(splits["test"])["nll"]),
                    "baseline_nll": markov_key_baseline(splits["train"], splits["test"])["nll"]}

        return (splits,), (music_test if splits.get("test") else None)
    raise ConfigError(f"unknown task {task!r} for tuning; choose {', '.join(SPACES)}")


def _baseline_accuracy(task: str, X: Any, y: Any, X_test: Any, y_test: Any) -> dict[str, float]:
    """``{"baseline_accuracy": ...}``: the baseline that the task's train command prints beside
    its model (bag of words for text, 1-NN Euclidean for series, the most frequent tag per word
    for tagging); empty when it cannot run here (the bag of words without scikit-learn)."""
    if task == "tag":
        from rnnkit.tasks.io import most_frequent_tag_baseline

        return {"baseline_accuracy": most_frequent_tag_baseline(X, y, X_test, y_test)["accuracy"]}
    from rnnkit.tasks.classify import series_baseline, text_baseline

    if X and isinstance(X[0], str):
        try:
            return {"baseline_accuracy": text_baseline(X, y, X_test, y_test)["accuracy"]}
        except ConfigError:
            return {}
    return {"baseline_accuracy": series_baseline(X, y, X_test, y_test)["accuracy"]}


def _plot_history(study: Any, path: Path) -> Path | None:
    """The study's validation loss per trial and the best so far, as a PNG."""
    from optuna.trial import TrialState

    from rnnkit.outputs import save_figure

    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not done:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [t.number for t in done]
    ys = [t.value for t in done]
    best = [min(ys[: i + 1]) for i in range(len(ys))]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(xs, ys, s=14, label="trial (best validation loss)")
    ax.step(xs, best, where="post", color="C3", label="best so far")
    pruned = [t.number for t in study.get_trials(deepcopy=False) if t.state == TrialState.PRUNED]
    if pruned:
        ax.scatter(pruned, [max(ys)] * len(pruned), marker="x", color="0.6", s=14, label="pruned")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation loss")
    ax.set_title(study.study_name)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return path


__all__ = ["tune", "task_data", "parse_value", "TuneResult", "Dim", "SPACES", "parse_dim",
           "read_space_file", "build_space",
           "PruneOnValidation"]
