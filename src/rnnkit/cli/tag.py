"""``rnnkit tag``: one label per token (part-of-speech tags, named entities, chunks)."""

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
from rnnkit.tasks.io import atomic_write_text
from rnnkit.tasks.tag import RNNTagger

app = typer.Typer(help="Sequence tagging (synced many-to-many) from CoNLL / CoNLL-U files.", no_args_is_help=True)

_TAG_HELP = "CoNLL-U: the tag column (upos, xpos, deprel, lemma). Plain CoNLL always uses the last column."


def _read(path: Path, tag_column: str):
    from rnnkit.tasks.io import read_conll

    return read_conll(path, tag_column)


@app.command()
@user_errors
@model_defaults(RNNTagger)
def train(
    train_file: Path = typer.Option(..., "--train", help="Training file: CoNLL-U (.conllu) or 'token tag' columns."),
    valid_file: Optional[Path] = typer.Option(None, "--valid", help="Validation file for early stopping "
                                              "(default: --validation-fraction of the training sentences)."),
    test_file: Optional[Path] = typer.Option(None, "--test", help="Test file: scored after training."),
    tag_column: str = typer.Option("upos", help=_TAG_HELP),
    out: Path = typer.Option(Path("runs/tag"), "--out", "-o", help="Run folder: model, checkpoints, reports."),
    resume: bool = typer.Option(False, help=Help.RESUME),
    overwrite: bool = typer.Option(False, help=Help.OVERWRITE),
    allow_changed_data: bool = typer.Option(False, help=Help.ALLOW_CHANGED_DATA),
    cell: Optional[str] = typer.Option(None, help=Help.CELL),
    hidden_size: Optional[int] = typer.Option(None, "--hidden", help="Units per recurrent layer and direction."),
    num_layers: Optional[int] = typer.Option(None, "--layers", help=Help.LAYERS),
    bidirectional: Optional[bool] = typer.Option(None, "--bidirectional/--unidirectional",
                                                 help="Read both directions."),
    dropout: Optional[float] = typer.Option(None, help="Dropout on embeddings, between layers and before the output."),
    zoneout: Optional[float] = typer.Option(None, help=Help.ZONEOUT),
    embedding_size: Optional[int] = typer.Option(None, "--embedding", help="Word embedding size."),
    char_features: Optional[bool] = typer.Option(None, "--char-features/--no-char-features",
                                       help="Add a character BiLSTM per word (helps unseen words)."),
    min_freq: Optional[int] = typer.Option(None, help="Words seen fewer times become <unk>."),
    lowercase: Optional[bool] = typer.Option(None, "--lowercase/--keep-case", help="Look words up lowercased "
                                   "(characters keep their case)."),
    epochs: Optional[int] = typer.Option(None, help="Maximum passes over the training set."),
    batch_size: Optional[int] = typer.Option(None, help="Sentences per batch."),
    lr: Optional[float] = typer.Option(None, help="Learning rate."),
    optimizer: Optional[str] = typer.Option(None, help="sgd, adam or adamw."),
    schedule: Optional[str] = typer.Option(None, help="Learning-rate schedule: constant, cosine or plateau."),
    clip: Optional[float] = typer.Option(None, help=Help.CLIP),
    label_smoothing: Optional[float] = typer.Option(None, help="Label smoothing for the cross-entropy."),
    early_stopping: Optional[int] = typer.Option(None, help=Help.EARLY_STOPPING),
    validation_fraction: Optional[float] = typer.Option(None,
                                                        help="Held-out share of --train when no --valid is given."),
    max_time: Optional[float] = typer.Option(None, help=Help.MAX_TIME),
    checkpoint_every: Optional[int] = typer.Option(None, help=Help.CHECKPOINT_EVERY),
    seed: Optional[int] = typer.Option(None, help=Help.SEED),
    device: Optional[str] = typer.Option(None, help=Help.DEVICE),
    precision: Optional[str] = typer.Option(None, help=Help.PRECISION),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=Help.QUIET),
) -> None:
    """Train a BiLSTM tagger (words + characters); with --test, score it and write a report."""
    check_run_folder(out, resume, overwrite)
    tagger = RNNTagger(**given(
        cell=cell, hidden_size=hidden_size, num_layers=num_layers, bidirectional=bidirectional, dropout=dropout,
        zoneout=zoneout,
        embedding_size=embedding_size, char_features=char_features, min_freq=min_freq, lowercase=lowercase,
        epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, schedule=schedule, clip=clip,
        label_smoothing=label_smoothing, validation_fraction=validation_fraction, max_time=max_time,
        checkpoint_every=checkpoint_every, seed=seed,
        device=device, precision=precision), **never_if_zero(early_stopping=early_stopping), verbose=not quiet,
        run_dir=str(out)).check_params()  # bad options before any data is read
    train_file, valid_file, test_file = data_splits(train_file, valid_file, test_file)  # data:NAME
    sentences, tags = _read(train_file, tag_column)
    valid = _read(valid_file, tag_column) if valid_file else (None, None)
    test = _read(test_file, tag_column) if test_file else None
    console.print(f"train: {len(sentences)} sentences, {sum(map(len, sentences))} tokens, "
                  f"{len({t for s in tags for t in s})} tags", highlight=False)
    tagger.fit(sentences, tags, *valid, resume=resume, overwrite=overwrite,
            allow_changed_data=allow_changed_data)
    if test is not None and tagger.stopped_because_ != "interrupted":
        accuracy = _tag_and_write(tagger, test[0], test[1], out / "test_predictions.tsv", out, "test")
        if accuracy is not None:
            _baseline(sentences, tags, test, accuracy, out)
    report_fit(tagger, out, "tag")


def _baseline(sentences, tags, test, accuracy: float, out: Path) -> None:
    """The most-frequent-tag baseline on the same test tokens, beside the model (and in
    test_report.json)."""

    from rnnkit.tasks.io import most_frequent_tag_baseline

    base = most_frequent_tag_baseline(sentences, tags, test[0], test[1])
    console.print(f"baseline: {base['name']} (unseen words: their lowercased form's, else the commonest tag of "
                  f"rare words): test accuracy {base['accuracy']:.2%} vs the model's {accuracy:.2%}: "
                  f"{verdict(accuracy, base['accuracy'], True)}", highlight=False)
    record_baseline(out / "test_report.json", base, beats(accuracy, base["accuracy"], True))


def _tag_and_write(tagger, sentences, gold, path: Path, report_dir: Path, name: str) -> float | None:
    """Write ``token<TAB>predicted[<TAB>gold]<TAB>probability`` lines, a blank line between
    sentences; with gold tags, report per-token accuracy and a per-tag table (and return the
    accuracy)."""
    import numpy as np

    from rnnkit.cli.reports import label_ids, report_predictions


    probs = tagger.predict_proba(sentences)
    lines = []
    for i, (tokens, p) in enumerate(zip(sentences, probs)):
        ids = p.argmax(1)
        for j, token in enumerate(tokens):
            cols = [token, str(tagger.classes_[ids[j]])] + ([gold[i][j]] if gold else []) + [f"{p[j, ids[j]]:.4f}"]
            lines.append("\t".join(cols) + "\n")
        lines.append("\n")
    atomic_write_text(path, "".join(lines))
    console.print(f"predictions: {path}", highlight=False)
    if gold:
        classes = tagger.classes_.tolist()
        y_true = label_ids(classes, [t for s in gold for t in s])
        y_pred = np.concatenate([p.argmax(1) for p in probs])
        keep = y_true >= 0
        return report_predictions(y_true[keep], y_pred[keep], classes, report_dir, name, unit="tokens")["accuracy"]
    return None


@app.command()
@user_errors
def predict(
    checkpoint: Path = typer.Argument(..., help="model.safetensors (or best.safetensors) from tag train."),
    file: Path = typer.Argument(..., help="A CoNLL-U/CoNLL file (scored against its tags), or plain text: "
                                "one sentence per line, tokens separated by spaces (.txt)."),
    tag_column: str = typer.Option("upos", help=_TAG_HELP),
    output: Optional[Path] = typer.Option(None, "--output", help="Where to write the tagged tokens "
                                          "(default: FILE's name + .tagged.tsv in the current folder)."),
) -> None:
    """Tag every token of FILE; prints accuracy and a per-tag report when FILE has tags."""
    from rnnkit.errors import DataError
    from rnnkit.tasks.io import iter_lines, read_text
    file = scoring_path(file)  # data:NAME: its test file
    tagger = RNNTagger.load(checkpoint)
    if file.suffix.lower() == ".txt":
        sentences = [line.split() for line in iter_lines(read_text(file)) if line.strip()]
        if not sentences:
            raise DataError(f"{file} holds no sentences")
        gold = None
    else:
        sentences, gold = _read(file, tag_column)
    out = output or Path(f"{file.name}.tagged.tsv")
    _tag_and_write(tagger, sentences, gold, out, out.parent, file.stem)
