"""``rnnkit forecast``: train, predict and backtest forecasters on CSV/Parquet tables."""

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
from rnnkit.errors import ConfigError
from rnnkit.tasks.forecast import Forecaster
from rnnkit.tasks.io import atomic_write_text

app = typer.Typer(help="Time-series forecasting from CSV or Parquet: train, predict the next horizon, backtest.",
                  no_args_is_help=True)


def _columns(value: Optional[str]) -> tuple:
    return tuple(c.strip() for c in value.split(",") if c.strip()) if value else ()


def _split(value: Optional[str]) -> Optional[tuple]:
    if value is None:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise ConfigError(f"--split takes three numbers, e.g. 0.7,0.1,0.2 or 8640,2880,2880; got {value!r}") from None
    if len(parts) != 3:
        raise ConfigError(f"--split takes three numbers (train, valid, test), got {value!r}")
    return parts


def _print_backtest(bt) -> None:
    from rich.table import Table

    def table_of(title: str, metrics: dict, scaled: dict | None) -> Table:
        table = Table(title=title)
        width = max(len(name) for name in metrics)
        table.add_column("forecaster", justify="left", no_wrap=True, min_width=width)  # names whole, never cut
        columns = ["MAE", "RMSE", "sMAPE %", "MASE"] + (["MSE (scaled)", "MAE (scaled)"] if scaled else [])
        for col in columns:
            table.add_column(col, justify="right", overflow="fold")
        for name, m in metrics.items():
            cells = [f"{m['mae']:.4g}", f"{m['rmse']:.4g}", f"{m['smape']:.2f}", f"{m.get('mase', float('nan')):.3f}"]
            if scaled:
                cells += [f"{scaled[name]['mse']:.4f}", f"{scaled[name]['mae']:.4f}"]
            table.add_row(name, *cells)
        return table

    season = f", seasonal period {bt.season}" if bt.season else ""
    console.print(table_of(f"{bt.split} backtest: {bt.windows} windows, horizon {bt.horizon}{season}",
                           bt.metrics, bt.scaled))
    for target, metrics in bt.per_target.items():
        console.print(table_of(f"{target} (original units)", metrics, None))
    # scaled MSE: every target on one scale, as the table's last columns
    best = min((k for k in bt.scaled if k not in ("model", "served")), key=lambda k: bt.scaled[k]["mse"])
    ratio = bt.scaled["model"]["mse"] / bt.scaled[best]["mse"]
    console.print(f"model MSE / best baseline ({best}) MSE, scaled = {ratio:.3f}", highlight=False)
    if bt.interval is not None:  # is the model's uncertainty honest? a calibrated interval covers its level
        console.print(f"the model's {bt.interval['level']:.0%} prediction interval covers "
                      f"{bt.interval['coverage']:.1%} of the {bt.split} values (mean width "
                      f"{bt.interval['width']:.4g})", highlight=False)
    if "served" in bt.scaled:
        served = bt.scaled["served"]["mse"] / bt.scaled[best]["mse"]
        console.print(f"served ({bt.guard['serving']}, as the guard chose on validation) MSE / best baseline "
                      f"MSE, scaled = {served:.3f}", highlight=False)


def _write_backtest(bt, forecaster, out_dir: Path, prefix: str) -> None:
    from rnnkit.tasks.io import plot_backtest

    atomic_write_text(out_dir / f"{prefix}_report.json", json.dumps(bt.to_dict(), indent=1))
    png = plot_backtest(bt, out_dir / f"{prefix}_forecasts.png", context=forecaster.context)
    console.print(f"report: {out_dir / f'{prefix}_report.json'}" + (f", plot: {png}" if png else ""), highlight=False)


@app.command()
@user_errors
@model_defaults(Forecaster)
def train(
    data: Path = typer.Argument(..., help="CSV or Parquet table with a time column and one or more series, or "
                                          "data:NAME (data:etth1, data:pjm)."),
    time_col: Optional[str] = typer.Option(None, help="Time column (default: one named date/time/datetime/timestamp)."),
    target: Optional[str] = typer.Option(None, help="Column(s) to forecast, comma-separated (default: all numeric)."),
    past_covariates: Optional[str] = typer.Option(None, help="Observed covariates, unknown ahead (comma-separated)."),
    known_covariates: Optional[str] = typer.Option(None, help="Covariates known ahead (predict needs --future)."),
    calendar: Optional[bool] = typer.Option(None, "--calendar/--no-calendar",
                                            help="Add hour/weekday/day-of-year features."),
    id_col: Optional[str] = typer.Option(None, help="Series id column: many series in one file."),
    time_format: Optional[str] = typer.Option(None, help="strftime format of the time column, e.g. '%d-%m-%Y %H:%M'."),
    dayfirst: Optional[bool] = typer.Option(None, help="Read ambiguous dates as day first (31-12-2002)."),
    duplicates: Optional[str] = typer.Option(None, help="Duplicated timestamps: error, mean, first or last."),
    fill: Optional[str] = typer.Option(None, help="Gaps and missing values: interpolate or ffill (default: error)."),
    freq: Optional[str] = typer.Option(None, help="Time step, e.g. 1h or 15min (default: the most common one)."),
    horizon: Optional[int] = typer.Option(None, help="Steps to forecast."),
    context: Optional[int] = typer.Option(None, help="Steps the model reads before each forecast."),
    split: Optional[str] = typer.Option(None, help="Train, valid, test in time order: fractions or row counts."),
    valid_start: Optional[str] = typer.Option(None, help="Date the validation rows start (with --test-start)."),
    test_start: Optional[str] = typer.Option(None, help="Date the test rows start."),
    scaler: Optional[str] = typer.Option(None, help="standard, minmax or none (per series, fitted on training rows)."),
    season: Optional[int] = typer.Option(None, help="Seasonal period for the baseline and MASE (default: 24 for "
                                         "hourly, 7 for daily, ...)."),
    cell: Optional[str] = typer.Option(None, help=Help.CELL),
    hidden_size: Optional[int] = typer.Option(None, "--hidden", help="Units per recurrent layer."),
    num_layers: Optional[int] = typer.Option(None, "--layers", help=Help.LAYERS),
    dropout: Optional[float] = typer.Option(None, help="Dropout between layers and before the output layer."),
    zoneout: Optional[float] = typer.Option(None, help=Help.ZONEOUT),
    decoder: Optional[str] = typer.Option(None, help="direct (all steps at once) or autoregressive."),
    likelihood: Optional[str] = typer.Option(None, help="point (MSE), gaussian or quantile (prediction intervals)."),
    quantiles: Optional[str] = typer.Option(None, help="Quantiles for --likelihood quantile, comma-separated."),
    instance_norm: Optional[bool] = typer.Option(None, "--instance-norm/--no-instance-norm",
                                       help="Forecast the change from each window's last value, in its own scale."),
    revin: Optional[bool] = typer.Option(None, "--revin/--no-revin",
                                         help="RevIN instead (Kim et al. 2022): centre each window on its mean, "
                                              "scale by its std, with a learnable affine map per target."),
    epochs: Optional[int] = typer.Option(None, help="Maximum passes over the training windows (early stopping "
                                         "usually ends training first)."),
    batch_size: Optional[int] = typer.Option(None, help="Windows per batch."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate."),
    clip: Optional[float] = typer.Option(None, help=Help.CLIP),
    early_stopping: Optional[int] = typer.Option(None, help=Help.EARLY_STOPPING),
    max_time: Optional[float] = typer.Option(None, help=Help.MAX_TIME),
    checkpoint_every: Optional[int] = typer.Option(None, help=Help.CHECKPOINT_EVERY),
    fallback: Optional[str] = typer.Option(None, help="What to serve when the model does not beat the best "
                                           "baseline on validation: baseline (default: the best baseline's "
                                           "forecast), ensemble (the validation-weighted mix of model and "
                                           "baseline) or none (the model, with a warning)."),
    seed: Optional[int] = typer.Option(None, help=Help.SEED),
    device: Optional[str] = typer.Option(None, help=Help.DEVICE),
    precision: Optional[str] = typer.Option(None, help=Help.PRECISION),
    out: Path = typer.Option(Path("runs/forecast"), "--out", "-o", help="Run folder: model, checkpoints, reports."),
    resume: bool = typer.Option(False, help=Help.RESUME),
    overwrite: bool = typer.Option(False, help=Help.OVERWRITE),
    allow_changed_data: bool = typer.Option(False, help=Help.ALLOW_CHANGED_DATA),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=Help.QUIET),
) -> None:
    """Train a forecaster, then backtest it on the test rows beside the naive baselines."""
    check_run_folder(out, resume, overwrite)
    qs = None
    if quantiles is not None:
        try:
            qs = tuple(float(q) for q in quantiles.split(","))
        except ValueError:
            raise ConfigError(f"--quantiles takes numbers, got {quantiles!r}") from None
    targets = _columns(target)
    f = Forecaster(**given(
        horizon=horizon, context=context, target=list(targets) if targets else None, time_col=time_col,
        past_covariates=_columns(past_covariates), known_covariates=_columns(known_covariates), calendar=calendar,
        id_col=id_col, time_format=time_format, dayfirst=dayfirst, duplicates=duplicates, fill=fill, freq=freq,
        split=_split(split), valid_start=valid_start, test_start=test_start, scaler=scaler, season=season, cell=cell,
        hidden_size=hidden_size, num_layers=num_layers, dropout=dropout, zoneout=zoneout, decoder=decoder,
        likelihood=likelihood,
        quantiles=qs, instance_norm=instance_norm, revin=revin, epochs=epochs, batch_size=batch_size, lr=lr,
        clip=clip, seed=seed,
        device=device, precision=precision, max_time=max_time,
        checkpoint_every=checkpoint_every, fallback=fallback),
        **never_if_zero(early_stopping=early_stopping), verbose=not quiet,
        run_dir=str(out)).check_params()  # bad options before any data is read
    data = data_path(data) or data  # data:NAME
    series = f.read(data)  # read and checked once, for training and for the backtest
    for line in series.report:
        console.print(f"data: {line}", highlight=False)
    f.fit(series, resume=resume, overwrite=overwrite,
            allow_changed_data=allow_changed_data)
    console.print(f"trained: {f.stopped_because_}; {f.best_loss_text()} {f.best_valid_loss_:.4f}; "
                  f"model: {out / 'model.safetensors'}", highlight=False)
    console.print(f"guard: {f.guard_.message()}" if f.guard_ is not None else
                  "guard: no validation windows, so the model was not checked against the baselines "
                  "before the test backtest", highlight=False)
    bt = f.backtest(series, "test")
    _print_backtest(bt)
    _write_backtest(bt, f, out, "test")


@app.command()
@user_errors
def predict(
    checkpoint: Path = typer.Argument(..., help="A forecaster (RUN/model.safetensors)."),
    data: Path = typer.Argument(..., help="The history: the same columns as the training table."),
    future: Optional[Path] = typer.Option(None, help="Known-future covariates for the horizon, if the model uses any."),
    output: Path = typer.Option(Path("forecast.csv"), "--output", "-o", help="Where to write the forecast (CSV)."),
    device: str = typer.Option("cpu", help="cpu, cuda, cuda:N or mps."),
) -> None:
    """Forecast the next horizon after the end of each series; write it to CSV."""
    f = Forecaster.load(checkpoint, device=device)
    frame = f.predict(scoring_path(data), future)
    if f.guard_ is not None and not f.guard_.model_wins:
        console.print(f"note: {f.guard_.message()}", highlight=False)
    atomic_write_text(output, frame.to_csv(index=False))
    console.print(frame.head(min(len(frame), 10)).to_string(index=False), highlight=False)
    console.print(f"{len(frame)} rows: {output}", highlight=False)


@app.command()
@user_errors
def evaluate(
    checkpoint: Path = typer.Argument(..., help="A forecaster (RUN/model.safetensors)."),
    data: Path = typer.Argument(..., help="A table with the training table's columns."),
    split: str = typer.Option("test", help="Which rows to backtest on: test, valid, train or all "
                              "(the training run's split applied to this table)."),
    stride: int = typer.Option(1, help="Steps between forecast origins."),
    out: Path = typer.Option(Path("."), "--out", "-o", help="Folder for the report JSON and the plot."),
    device: str = typer.Option("cpu", help="cpu, cuda, cuda:N or mps."),
) -> None:
    """Rolling-origin backtest of a saved forecaster beside the naive baselines."""
    if stride < 1:
        raise ConfigError("--stride must be at least 1")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the report and the plot")
    f = Forecaster.load(checkpoint, device=device)
    bt = f.backtest(scoring_path(data), split, stride)
    _print_backtest(bt)
    out.mkdir(parents=True, exist_ok=True)
    _write_backtest(bt, f, out, split)
