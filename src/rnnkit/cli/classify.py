"""``rnnkit classify``: many-to-one sequence classification from files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnnkit.cli.common import (
    Help,
    check_run_folder,
    console,
    data_splits,
    given,
    model_defaults,
    never_if_zero,
    scoring_path,
    user_errors,
)
from rnnkit.cli.reports import beats, record_baseline, report_fit, verdict
from rnnkit.tasks.classify import RNNClassifier

app = typer.Typer(help="Sequence classification (many-to-one): UCR/UEA series, CSV sequences, labelled text.",
                  no_args_is_help=True)

_FORMAT_HELP = ("File format: auto (by extension and first line), ucr (.tsv, label first), ts (sktime/aeon), "
                "csv (header row; see --label-column/--id-column), "
                "text (label and sentence, either order, TAB or space).")


def _read(path: Path, fmt: str, label_column: str, id_column: Optional[str], time_column: Optional[str],
          missing: str, classes: Optional[list[str]] = None):
    from rnnkit.tasks.io import read_labelled_file

    return read_labelled_file(path, fmt, label_column, id_column, time_column, missing, classes)


@app.command()
@user_errors
@model_defaults(RNNClassifier)
def train(
    train_file: Path = typer.Option(..., "--train", help="Training file, or data:NAME (e.g. data:ucr/Coffee, "
                                                         "data:sst2; its test file comes along)."),
    valid_file: Optional[Path] = typer.Option(None, "--valid", help="Validation file for early stopping "
                                              "(default: a stratified --validation-fraction of --train)."),
    test_file: Optional[Path] = typer.Option(None, "--test", help="Test file: scored after training, "
                                             "with predictions, report and confusion matrix."),
    fmt: str = typer.Option("auto", "--format", help=_FORMAT_HELP),
    label_column: str = typer.Option("label", help="CSV: the column holding the class."),
    id_column: Optional[str] = typer.Option(None, help="CSV long layout: rows with the same id form one sequence."),
    time_column: Optional[str] = typer.Option(None, help="CSV long layout: order rows within a sequence by this."),
    missing: str = typer.Option("error", help="NaN inside a series: 'error' or 'interpolate' (linear)."),
    out: Path = typer.Option(Path("runs/classify"), "--out", "-o", help="Run folder: model, checkpoints, reports."),
    resume: bool = typer.Option(False, help=Help.RESUME),
    overwrite: bool = typer.Option(False, help=Help.OVERWRITE),
    allow_changed_data: bool = typer.Option(False, help=Help.ALLOW_CHANGED_DATA),
    cell: Optional[str] = typer.Option(None, help=Help.CELL),
    hidden_size: Optional[int] = typer.Option(None, "--hidden", help="Units per recurrent layer and direction."),
    num_layers: Optional[int] = typer.Option(None, "--layers", help=Help.LAYERS),
    bidirectional: Optional[bool] = typer.Option(None, "--bidirectional/--unidirectional",
                                                 help="Read both directions."),
    pooling: Optional[str] = typer.Option(None, help="Sequence summary: last, mean, max or attention (all masked)."),
    dropout: Optional[float] = typer.Option(None, help="Dropout between layers and before the output layer."),
    zoneout: Optional[float] = typer.Option(None, help=Help.ZONEOUT),
    znorm: Optional[str] = typer.Option(None, help="Series scaling: 'series' (z-normalise each series on its own), "
                              "'dataset' (per channel, training-set statistics), or 'auto' (series for "
                              "univariate, dataset for multivariate)."),
    conv_branch: Optional[bool] = typer.Option(None, "--conv-branch/--no-conv-branch",
                                     help="Series: add LSTM-FCN's convolutional branch (Karim et al. 2018)."),
    embedding_size: Optional[int] = typer.Option(None, "--embedding", help="Text: word embedding size."),
    char_features: Optional[bool] = typer.Option(None, "--char-features/--no-char-features",
                                       help="Text: add a character BiLSTM per word."),
    min_freq: Optional[int] = typer.Option(None, help="Text: words seen fewer times become <unk>."),
    encoder: Optional[Path] = typer.Option(None, help="Text: start from a pretrained language model (a checkpoint "
                                           "of rnnkit lm train, e.g. --preset awd-lstm, fine-tuned on these texts "
                                           "with --init-from): ULMFiT's classifier, with concat pooling, gradual "
                                           "unfreezing, discriminative and slanted triangular learning rates."),
    max_length: Optional[int] = typer.Option(None, help="Text: keep at most this many tokens of each text (its "
                                              "first quarter and last three quarters)."),
    bptt: Optional[int] = typer.Option(None, help="With --encoder: read a longer text whole but backpropagate "
                                       "through its last this many tokens only; its start runs without gradient, "
                                       "its state carried over (ULMFiT's BPT3C)."),
    layer_lr_decay: Optional[float] = typer.Option(None, help="With --encoder: each layer learns at 1/this of "
                                                   "the rate of the layer above (ULMFiT: 2.6; 1: all alike)."),
    gradual_unfreezing: Optional[bool] = typer.Option(None, "--gradual-unfreezing/--no-gradual-unfreezing",
                                                      help="With --encoder: train the head alone first, then "
                                                      "unfreeze one more layer every epoch (sooner in a run too short "
                                                      "for every layer to train its second half)."),
    encoder_dropout: Optional[float] = typer.Option(None, help="With --encoder: multiply the language model's "
                                                    "dropouts by this while the classifier trains (ULMFiT: 0.5)."),
    epochs: Optional[int] = typer.Option(None, help="Maximum passes over the training set."),
    batch_size: Optional[int] = typer.Option(None, help="Sequences per batch."),
    lr: Optional[float] = typer.Option(None, help="Learning rate."),
    optimizer: Optional[str] = typer.Option(None, help="sgd, adam or adamw."),
    weight_decay: Optional[float] = typer.Option(None, help="L2 penalty (decoupled for adamw)."),
    schedule: Optional[str] = typer.Option(None, help="Learning-rate schedule: constant, cosine, plateau or slanted "
                                           "(slanted triangular, ULMFiT's; the default with --encoder)."),
    clip: Optional[float] = typer.Option(None, help=Help.CLIP),
    class_weight: Optional[str] = typer.Option(None, help="'balanced': weight classes by inverse frequency."),
    label_smoothing: Optional[float] = typer.Option(None, help="Label smoothing for the cross-entropy."),
    early_stopping: Optional[int] = typer.Option(None, help=Help.EARLY_STOPPING),
    validation_fraction: Optional[float] = typer.Option(None, help="Held-out share of --train when no --valid is given "
                                              "(0: choose the model by training loss)."),
    max_time: Optional[float] = typer.Option(None, help=Help.MAX_TIME),
    checkpoint_every: Optional[int] = typer.Option(None, help=Help.CHECKPOINT_EVERY),
    seed: Optional[int] = typer.Option(None, help=Help.SEED),
    device: Optional[str] = typer.Option(None, help=Help.DEVICE),
    precision: Optional[str] = typer.Option(None, help=Help.PRECISION),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=Help.QUIET),
) -> None:
    """Train a recurrent classifier; with --test, score it and write predictions and a report."""
    check_run_folder(out, resume, overwrite)
    clf = RNNClassifier(**given(
        cell=cell, hidden_size=hidden_size, num_layers=num_layers, bidirectional=bidirectional, pooling=pooling,
        dropout=dropout, zoneout=zoneout, znorm=_znorm(znorm), conv_branch=conv_branch,
        embedding_size=embedding_size,
        char_features=char_features, min_freq=min_freq, epochs=epochs, batch_size=batch_size, lr=lr,
        optimizer=optimizer, weight_decay=weight_decay, schedule=schedule, clip=clip, class_weight=class_weight,
        label_smoothing=label_smoothing, validation_fraction=validation_fraction, max_time=max_time,
        checkpoint_every=checkpoint_every, seed=seed,
        device=device, precision=precision, encoder=str(encoder) if encoder else None, max_length=max_length,
        bptt=bptt, layer_lr_decay=layer_lr_decay, gradual_unfreezing=gradual_unfreezing,
        encoder_dropout=encoder_dropout),
        **never_if_zero(early_stopping=early_stopping), verbose=not quiet,
        run_dir=str(out)).check_params()  # bad options before any data is read
    train_file, valid_file, test_file = data_splits(train_file, valid_file, test_file)  # data:NAME
    train_data = _read(train_file, fmt, label_column, id_column, time_column, missing)
    valid_data = _read(valid_file, fmt, label_column, id_column, time_column, missing) if valid_file else None
    test_data = _read(test_file, fmt, label_column, id_column, time_column, missing) if test_file else None
    console.print(f"train: {len(train_data.X)} {train_data.kind} examples, {len(set(train_data.y))} classes"
                  + (f" ({train_data.note})" if train_data.note else ""),
                  highlight=False)
    clf.fit(train_data.X, train_data.y, valid_data.X if valid_data else None, valid_data.y if valid_data else None,
            resume=resume, overwrite=overwrite,
            allow_changed_data=allow_changed_data)
    if test_data is not None and clf.stopped_because_ != "interrupted":
        accuracy = _score_and_write(clf, test_data, out, "test")
        if accuracy is not None:
            _baseline(train_data, test_data, accuracy, out)
    report_fit(clf, out, "classify")


def _baseline(train_data, test_data, accuracy: float, out: Path) -> None:
    """The simple baseline on the same split, beside the model (and in test_report.json): the
    bag of words for text, 1-NN Euclidean for series."""

    from rnnkit.errors import ConfigError
    from rnnkit.tasks.classify import series_baseline, text_baseline

    if train_data.kind == "text":
        try:
            base = text_baseline(train_data.X, train_data.y, test_data.X, test_data.y)
        except ConfigError as e:
            console.print(f"baseline: skipped ({e})", highlight=False)
            return
        how, kind = f"C={base['C']:g}, fitted on the training texts", "bag-of-words"
    else:
        base = series_baseline(train_data.X, train_data.y, test_data.X, test_data.y)
        how, kind = "each test series takes the label of the nearest training series", "nearest-neighbour"
    console.print(f"baseline: {base['name']} ({how}): test accuracy {base['accuracy']:.2%} vs the model's "
                  f"{accuracy:.2%}: {verdict(accuracy, base['accuracy'], True, kind)}", highlight=False)
    record_baseline(out / "test_report.json", base, beats(accuracy, base["accuracy"], True))


def _znorm(value: Optional[str]):
    from rnnkit.errors import ConfigError

    if value is None:
        return None
    choices = {"auto": "auto", "series": True, "dataset": False}
    if value not in choices:
        raise ConfigError(f"unknown --znorm {value!r}; choose auto, series or dataset")
    return choices[value]


def _score_and_write(clf, data, out_dir: Path, name: str, output: Path | None = None) -> float | None:
    from rnnkit.cli.reports import label_ids, report_predictions, write_csv

    proba = clf.predict_proba(data.X)
    pred = clf.classes_[proba.argmax(1)]
    labelled = data.y is not None
    header = ["index"] + (["label"] if labelled else []) + ["predicted"] + [f"p_{c}" for c in clf.classes_]
    rows = ([i] + ([data.y[i]] if labelled else []) + [pred[i]] + [f"{p:.6f}" for p in proba[i]]
            for i in range(len(pred)))
    path = write_csv(output or out_dir / f"{name}_predictions.csv", header, rows)
    console.print(f"predictions: {path}", highlight=False)
    if labelled:
        y_true = label_ids(clf.classes_, data.y)
        y_pred = proba.argmax(1)
        keep = y_true >= 0
        return report_predictions(y_true[keep], y_pred[keep], clf.classes_.tolist(), out_dir, name)["accuracy"]
    return None


@app.command()
@user_errors
def predict(
    checkpoint: Path = typer.Argument(..., help="model.safetensors (or best.safetensors) from classify train."),
    file: Path = typer.Argument(..., help="Sequences to classify, in the training file's format."),
    fmt: str = typer.Option("auto", "--format", help=_FORMAT_HELP),
    no_labels: bool = typer.Option(False, "--no-labels", help="Text: one sentence per line, no label."),
    label_column: str = typer.Option("label", help="CSV: the column holding the class (if any)."),
    id_column: Optional[str] = typer.Option(None, help="CSV long layout: the sequence id column."),
    time_column: Optional[str] = typer.Option(None, help="CSV long layout: the time column."),
    missing: str = typer.Option("error", help="NaN inside a series: 'error' or 'interpolate'."),
    output: Optional[Path] = typer.Option(None, "--output", help="Predictions CSV "
                                          "(default: FILE's name + .predictions.csv in the current folder)."),
) -> None:
    """Predict classes (with probabilities) for FILE; scores them too when FILE has labels."""
    from rnnkit.tasks.io import LabelledSequences, iter_lines, read_text

    file = scoring_path(file)  # data:NAME: its test file
    clf = RNNClassifier.load(checkpoint)
    if no_labels:
        lines = [line.strip() for line in iter_lines(read_text(file)) if line.strip()]
        data = LabelledSequences(lines, None, "text", file.stem)
    else:
        # a text model knows its classes: lines that hold none of them are texts to classify, whole
        classes = [str(c) for c in clf.classes_] if clf.input_kind_ == "text" else None
        data = _read(file, fmt, label_column, id_column, time_column, missing, classes)
        if data.note:
            console.print(f"{file}: {len(data.X)} examples ({data.note})", highlight=False)
    out = output or Path(f"{file.name}.predictions.csv")
    _score_and_write(clf, data, out.parent, out.name.removesuffix(".predictions.csv").removesuffix(".csv"), out)
