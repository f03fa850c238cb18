"""``rnnkit translate``: train an attentional encoder-decoder, translate, evaluate with BLEU/chrF.

``rnnkit translate CHECKPOINT "a sentence"`` translates directly: a first argument that
is not one of the sub-commands is read as a checkpoint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperGroup

from rnnkit.cli.common import (
    Help,
    check_run_folder,
    console,
    data_path,
    err_console,
    given,
    model_defaults,
    never_if_zero,
    scoring_path,
    user_errors,
)
from rnnkit.cli.reports import beats, exit_if_interrupted, verdict
from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.io import atomic_write_text
from rnnkit.tasks.translate import Translator


class _CheckpointFirst(TyperGroup):
    """``translate CKPT ...`` runs the hidden ``text`` command; ``translate train ...`` runs ``train``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["text", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_CheckpointFirst, no_args_is_help=True,
                  help="Translation with an attentional encoder-decoder: train, translate, evaluate. "
                       "Translate with: rnnkit translate CHECKPOINT \"a sentence\" (or a --file, or stdin).")


def _read_pairs(pairs: Optional[Path], src: Optional[Path], tgt: Optional[Path]) -> tuple[list[str], list[str]]:
    from rnnkit.tasks.io import read_parallel

    return read_parallel(pairs, src, tgt)


@app.command()
@user_errors
@model_defaults(Translator)
def train(
    pairs: Optional[Path] = typer.Option(None, help="Training pairs: 'source<TAB>target' per line."),
    src: Optional[Path] = typer.Option(None, help="Training source sentences, one per line (with --tgt); or "
                                              "data:multi30k (source, target and validation files)."),
    tgt: Optional[Path] = typer.Option(None, help="Training target sentences, line-aligned with --src."),
    valid_pairs: Optional[Path] = typer.Option(None, help="Validation pairs (TSV); default: 5 percent of training."),
    valid_src: Optional[Path] = typer.Option(None, help="Validation source file (with --valid-tgt)."),
    valid_tgt: Optional[Path] = typer.Option(None, help="Validation target file."),
    tokenizer: Optional[str] = typer.Option(None,
                                            help="simple (words + punctuation), whitespace, char or sentencepiece."),
    lowercase: Optional[bool] = typer.Option(None, "--lowercase/--keep-case", help="Lowercase both sides."),
    min_freq: Optional[int] = typer.Option(None, help="Rarer words become <unk>."),
    max_vocab: Optional[int] = typer.Option(None, help="Keep at most this many tokens per language."),
    sp_vocab_size: Optional[int] = typer.Option(None, help="Subwords per language (sentencepiece)."),
    max_length: Optional[int] = typer.Option(None, help="Leave out training pairs with a longer side (tokens)."),
    cell: Optional[str] = typer.Option(None, help=Help.CELL),
    hidden_size: Optional[int] = typer.Option(None, "--hidden",
                                              help="Units of the decoder (the encoder's two directions "
                                    "share them)."),
    num_layers: Optional[int] = typer.Option(None, "--layers", help="Stacked layers in encoder and decoder."),
    embedding_size: Optional[int] = typer.Option(None, "--embedding", help="Word embedding size."),
    attention: Optional[str] = typer.Option(None, help="general, dot (Luong), additive (Bahdanau) or none."),
    input_feeding: Optional[bool] = typer.Option(None, "--input-feeding/--no-input-feeding",
                                       help="Feed the previous attentional vector to the decoder."),
    dropout: Optional[float] = typer.Option(None, help="Dropout on embeddings, between layers and before the output."),
    zoneout: Optional[float] = typer.Option(None, help=Help.ZONEOUT),
    tie_embeddings: Optional[bool] = typer.Option(None, help="Output layer shares the target embedding matrix."),
    teacher_forcing: Optional[float] = typer.Option(None, help="Probability of feeding the true previous word."),
    label_smoothing: Optional[float] = typer.Option(None, help="Label smoothing of the training loss."),
    batch_size: Optional[int] = typer.Option(None, help="Sentence pairs per batch (bucketed by length)."),
    epochs: Optional[int] = typer.Option(None, help="Maximum passes over the training pairs."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate."),
    schedule: Optional[str] = typer.Option(None, help="constant, cosine or plateau."),
    clip: Optional[float] = typer.Option(None, help=Help.CLIP),
    early_stopping: Optional[int] = typer.Option(None, help=Help.EARLY_STOPPING),
    beam_size: Optional[int] = typer.Option(None, "--beam",
                                            help="Beam used for the reported scores and by default later."),
    max_time: Optional[float] = typer.Option(None, help=Help.MAX_TIME),
    checkpoint_every: Optional[int] = typer.Option(None, help=Help.CHECKPOINT_EVERY),
    seed: Optional[int] = typer.Option(None, help=Help.SEED),
    device: Optional[str] = typer.Option(None, help=Help.DEVICE),
    precision: Optional[str] = typer.Option(None, help=Help.PRECISION),
    out: Path = typer.Option(Path("runs/translate"), "--out", "-o", help="Run folder: checkpoints, metrics."),
    resume: bool = typer.Option(False, help=Help.RESUME),
    overwrite: bool = typer.Option(False, help=Help.OVERWRITE),
    allow_changed_data: bool = typer.Option(False, help=Help.ALLOW_CHANGED_DATA),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=Help.QUIET),
) -> None:
    """Train a translation model; report validation BLEU and chrF."""
    check_run_folder(out, resume, overwrite)
    if src is not None and str(src).startswith("data:"):  # a parallel dataset by name: both sides, and its valid
        from rnnkit.tasks.io import has_data_role

        spec = str(src)
        if tgt is None:
            tgt = data_path(spec, "train_target")
        if valid_pairs is None and valid_src is None and has_data_role(spec, "valid"):
            valid_src, valid_tgt = data_path(spec, "valid"), data_path(spec, "valid_target")
        src = data_path(spec)
    train_src, train_tgt = _read_pairs(pairs, src, tgt)
    if valid_pairs or valid_src or valid_tgt:
        v_src, v_tgt = _read_pairs(valid_pairs, valid_src, valid_tgt)
    else:
        v_src = v_tgt = []
    console.print(f"data: {len(train_src):,} training pairs"
                  + (f", {len(v_src):,} validation pairs" if v_src else ""), highlight=False)
    model = Translator(**given(
        tokenizer=tokenizer, lowercase=lowercase, min_freq=min_freq, max_vocab=max_vocab,
        sp_vocab_size=sp_vocab_size, max_length=max_length, cell=cell, hidden_size=hidden_size,
        num_layers=num_layers, embedding_size=embedding_size, attention=attention, input_feeding=input_feeding,
        dropout=dropout, zoneout=zoneout, tie_embeddings=tie_embeddings, teacher_forcing=teacher_forcing,
        label_smoothing=label_smoothing, batch_size=batch_size, epochs=epochs, lr=lr, schedule=schedule, clip=clip,
        beam_size=beam_size, max_time=max_time, checkpoint_every=checkpoint_every, seed=seed, device=device,
        precision=precision),
        **never_if_zero(early_stopping=early_stopping), verbose=not quiet, run_dir=str(out))
    if not v_src and model.validation_fraction > 0:
        # the pairs fit would hold out itself, held out here, so that BLEU and the baseline are scored on them
        train_src, train_tgt, v_src, v_tgt = model.split_validation(train_src, train_tgt)
        console.print(f"validation: {len(v_src):,} of the training pairs held out "
                      f"({model.validation_fraction:.0%}, as fit would)", highlight=False)
    model.fit(train_src, train_tgt, v_src or None, v_tgt or None, resume=resume, overwrite=overwrite,
            allow_changed_data=allow_changed_data)
    exit_if_interrupted(model, out)
    console.print(f"trained: {model.stopped_because_}; {model.n_train_pairs_:,} pairs used "
                  f"({model.n_filtered_:,} longer than {model.max_length} tokens left out); vocabularies "
                  f"{len(model.src_codec_):,} / {len(model.tgt_codec_):,}", highlight=False, soft_wrap=True)
    if v_src:
        scores = model.evaluate(v_src, v_tgt)
        console.print(f"validation: BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f} (beam {model.beam_size})",
                      highlight=False)
        base = model.baseline(train_src, train_tgt, v_src, v_tgt)
        console.print(f"baseline: {base['name']}, learnt from the training pairs: BLEU {base['bleu']:.2f}, chrF "
                      f"{base['chrf']:.2f}: {verdict(scores['bleu'], base['bleu'], True)}", highlight=False,
                      soft_wrap=True)
        report = {k: v for k, v in scores.items() if k != "translations"}
        report["baseline"] = {**{k: v for k, v in base.items() if k != "translations"},
                              "model_beats_baseline": beats(scores["bleu"], base["bleu"], True)}
        atomic_write_text(out / "valid_report.json", json.dumps(report, indent=1))
    console.print(f"saved {out / 'model.safetensors'}; translate with: rnnkit translate "
                  f"{out / 'model.safetensors'} \"...\"", highlight=False, soft_wrap=True)


def _input_sentences(sentences: list[str], file: Optional[Path]) -> list[str]:
    from rnnkit.tasks.io import iter_lines, read_text

    if sentences and file:
        raise ConfigError("give sentences or --file, not both")
    if file:
        lines = [line.strip() for line in iter_lines(read_text(file))]
    elif sentences:
        lines = list(sentences)
    else:
        if sys.stdin.isatty():
            raise ConfigError("nothing to translate: give a sentence, --file FILE, or pipe text in")
        lines = [line.strip() for line in iter_lines(sys.stdin.read())]
    if not any(lines):
        raise DataError("nothing to translate: the input is empty")
    return lines


@app.command("text", hidden=True)
@user_errors
def text(
    checkpoint: Path = typer.Argument(..., help="A translation checkpoint (RUN/model.safetensors)."),
    sentences: Optional[List[str]] = typer.Argument(None, help="Sentences to translate (default: --file or stdin)."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="Translate every line of this file."),
    beam_size: Optional[int] = typer.Option(None, "--beam", help="Beam size (1: greedy; default: the model's)."),
    attention_plot: Optional[Path] = typer.Option(None, help="Write the first sentence's attention map (PNG)."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
) -> None:
    """Translate sentences with a trained model: one output line per input line."""
    lines = _input_sentences(sentences or [], file)
    model = Translator.load(checkpoint, device=device)
    for line, out in zip(lines, model.translate(lines, beam_size)):
        typer.echo(out if line else "")
    if attention_plot:
        model.plot_attention(lines[0], attention_plot, beam_size)
        err_console.print(f"attention map: {attention_plot}", highlight=False)


@app.command()
@user_errors
def evaluate(
    checkpoint: Path = typer.Argument(..., help="A translation checkpoint."),
    src: Optional[Path] = typer.Option(None, help="Source sentences, one per line."),
    ref: Optional[Path] = typer.Option(None, help="Reference translations, line-aligned with --src."),
    pairs: Optional[Path] = typer.Option(None, help="Or: a TSV of 'source<TAB>reference' lines."),
    beam_size: Optional[int] = typer.Option(None, "--beam", help="Beam size (1: greedy; default: the model's)."),
    output: Optional[Path] = typer.Option(None, help="Write the translations here, one per line."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the scores as JSON."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
) -> None:
    """Corpus BLEU and chrF (sacrebleu, detokenised) of the model's translations of --src."""
    from rnnkit.tasks.io import has_data_role, read_parallel

    if src is not None and str(src).startswith("data:"):  # a parallel dataset: its test sources and references
        spec = str(src)
        if ref is None and has_data_role(spec, "test_target"):
            ref = data_path(spec, "test_target")
        src = scoring_path(spec)
    sources, references = read_parallel(pairs, src, ref)
    model = Translator.load(checkpoint, device=device)
    scores = model.evaluate(sources, references, beam_size)
    console.print(f"BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  ({scores['sentences']:,} sentences, "
                  f"beam {scores['beam_size']}{', lowercased' if model.lowercase else ''})", highlight=False)
    console.print(f"[dim]{scores['bleu_signature']}[/]", highlight=False)
    if output:
        from rnnkit.tasks.io import atomic_write_bytes

        atomic_write_bytes(output, ("\n".join(scores["translations"]) + "\n").encode("utf-8"))
    if json_out:
        atomic_write_text(json_out, json.dumps({k: v for k, v in scores.items() if k != "translations"}, indent=1))
