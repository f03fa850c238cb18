"""``rnnkit tag``: one label per token (part-of-speech tags, named entities, chunks)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnnkit.cli.common import check_run_folder, console, user_errors
from rnnkit.cli.reports import report_fit

app = typer.Typer(help="Sequence tagging (synced many-to-many) from CoNLL / CoNLL-U files.", no_args_is_help=True)

_TAG_HELP = "CoNLL-U: the tag column (upos, xpos, deprel, lemma). Plain CoNLL always uses the last column."


def _read(path: Path, tag_column: str):
    from rnnkit.tasks.io import read_conll

    return read_conll(path, tag_column)


@app.command()
@user_errors
def train(
    train_file: Path = typer.Option(..., "--train", help="Training file: CoNLL-U (.conllu) or 'token tag' columns."),
    valid_file: Optional[Path] = typer.Option(None, "--valid", help="Validation file for early stopping "
                                              "(default: --validation-fraction of the training sentences)."),
    test_file: Optional[Path] = typer.Option(None, "--test", help="Test file: scored after training."),
    tag_column: str = typer.Option("upos", help=_TAG_HELP),
    out: Path = typer.Option(Path("runs/tag"), "--out", "-o", help="Run folder: model, checkpoints, reports."),
    resume: bool = typer.Option(False, help="Continue the interrupted run in --out."),
    overwrite: bool = typer.Option(False, help="Replace a previous run in --out instead of refusing."),
    cell: str = typer.Option("lstm", help="Recurrent cell: lstm, gru, rnn_tanh or rnn_relu."),
    hidden_size: int = typer.Option(128, "--hidden", help="Units per recurrent layer and direction."),
    num_layers: int = typer.Option(2, "--layers", help="Stacked recurrent layers."),
    bidirectional: bool = typer.Option(True, "--bidirectional/--unidirectional", help="Read both directions."),
    dropout: float = typer.Option(0.33, help="Dropout on embeddings, between layers and before the output."),
    embedding_size: int = typer.Option(100, "--embedding", help="Word embedding size."),
    char_features: bool = typer.Option(True, "--char-features/--no-char-features",
                                       help="Add a character BiLSTM per word (helps unseen words)."),
    min_freq: int = typer.Option(1, help="Words seen fewer times become <unk>."),
    lowercase: bool = typer.Option(True, "--lowercase/--keep-case", help="Look words up lowercased "
                                   "(characters keep their case)."),
    epochs: int = typer.Option(30, help="Maximum passes over the training set."),
    batch_size: int = typer.Option(32, help="Sentences per batch."),
    lr: float = typer.Option(2e-3, help="Learning rate."),
    optimizer: str = typer.Option("adam", help="sgd, adam or adamw."),
    schedule: str = typer.Option("constant", help="Learning-rate schedule: constant, cosine or plateau."),
    clip: float = typer.Option(5.0, help="Clip the global gradient norm to this value."),
    label_smoothing: float = typer.Option(0.0, help="Label smoothing for the cross-entropy."),
    early_stopping: int = typer.Option(5, help="Stop after N epochs without a better validation loss (0: never)."),
    validation_fraction: float = typer.Option(0.1, help="Held-out share of --train when no --valid is given."),
    max_time: Optional[float] = typer.Option(None, help="Stop (and keep the best model) after this many seconds."),
    seed: int = typer.Option(0, help="Random seed."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:N or mps."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a BiLSTM tagger (words + characters); with --test, score it and write a report."""
    from rnnkit.tasks.tag import RNNTagger

    check_run_folder(out, resume, overwrite)
    sentences, tags = _read(train_file, tag_column)
    valid = _read(valid_file, tag_column) if valid_file else (None, None)
    test = _read(test_file, tag_column) if test_file else None
    console.print(f"train: {len(sentences)} sentences, {sum(map(len, sentences))} tokens, "
                  f"{len({t for s in tags for t in s})} tags", highlight=False)
    tagger = RNNTagger(cell=cell, hidden_size=hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                       dropout=dropout, embedding_size=embedding_size, char_features=char_features,
                       min_freq=min_freq, lowercase=lowercase, epochs=epochs, batch_size=batch_size, lr=lr,
                       optimizer=optimizer, schedule=schedule, clip=clip, label_smoothing=label_smoothing,
                       early_stopping=early_stopping or None, validation_fraction=validation_fraction,
                       max_time=max_time, seed=seed, device=device, verbose=not quiet, run_dir=str(out))
    tagger.fit(sentences, tags, *valid, resume=resume, overwrite=overwrite)
    if test is not None and tagger.stopped_because_ != "interrupted":
        _tag_and_write(tagger, test[0], test[1], out / "test_predictions.tsv", out, "test")
    report_fit(tagger, out, "tag")


def _tag_and_write(tagger, sentences, gold, path: Path, report_dir: Path, name: str) -> None:
    """Write ``token<TAB>predicted[<TAB>gold]<TAB>probability`` lines, a blank line between
    sentences; with gold tags, report per-token accuracy and a per-tag table."""
    import numpy as np

    from rnnkit.cli.reports import label_ids, report_predictions

    probs = tagger.predict_proba(sentences)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for i, (tokens, p) in enumerate(zip(sentences, probs)):
            ids = p.argmax(1)
            for j, token in enumerate(tokens):
                cols = [token, str(tagger.classes_[ids[j]])] + ([gold[i][j]] if gold else []) + [f"{p[j, ids[j]]:.4f}"]
                f.write("\t".join(cols) + "\n")
            f.write("\n")
    console.print(f"predictions: {path}", highlight=False)
    if gold:
        classes = tagger.classes_.tolist()
        y_true = label_ids(classes, [t for s in gold for t in s])
        y_pred = np.concatenate([p.argmax(1) for p in probs])
        keep = y_true >= 0
        report_predictions(y_true[keep], y_pred[keep], classes, report_dir, name, unit="tokens")


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
    from rnnkit.tasks.io import read_text
    from rnnkit.tasks.tag import RNNTagger

    tagger = RNNTagger.load(checkpoint)
    if file.suffix.lower() == ".txt":
        sentences = [line.split() for line in read_text(file).splitlines() if line.strip()]
        if not sentences:
            raise DataError(f"{file} holds no sentences")
        gold = None
    else:
        sentences, gold = _read(file, tag_column)
    out = output or Path(f"{file.name}.tagged.tsv")
    _tag_and_write(tagger, sentences, gold, out, out.parent, file.stem)
