"""``rnnkit lm``: train, sample from and evaluate language models."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from rnnkit.cli.common import Help, console, data_path, data_splits, model_defaults, scoring_path, user_errors
from rnnkit.errors import ConfigError
from rnnkit.tasks.lm import LanguageModeler

app = typer.Typer(help="Character- and word-level language models: train, generate, evaluate.",
                  no_args_is_help=True)

_PRESETS_HELP = ("zaremba-small, zaremba-medium, zaremba-large (PTB words), awd-lstm (ULMFiT's encoder, raw text), "
                 "char-rnn-small, char-rnn, demo")


@app.command()
@user_errors
@model_defaults(LanguageModeler)
def train(
    files: Optional[List[Path]] = typer.Argument(None, help="Training text file(s), UTF-8, or data:NAME (a public "
                                                 "dataset, e.g. data:ptb; rnnkit data list). Without --valid/--test "
                                                 "they are split contiguously 90/5/5."),
    preset: Optional[str] = typer.Option(None, help=f"Start from a named configuration: {_PRESETS_HELP}."),
    valid: Optional[Path] = typer.Option(None, help="Validation text file (give --test too)."),
    test: Optional[Path] = typer.Option(None, help="Test text file (give --valid too)."),
    out: Path = typer.Option(Path("runs/lm"), "--out", "-o", help="Run folder: checkpoints, metrics, curves."),
    resume: bool = typer.Option(False, help="Continue the run in --out from its last checkpoint."),
    overwrite: bool = typer.Option(False, help=Help.OVERWRITE),
    allow_changed_data: bool = typer.Option(False, help=Help.ALLOW_CHANGED_DATA),
    level: Optional[str] = typer.Option(None, help="Tokens: 'char' or 'word' (whitespace words, <eos> per line)."),
    cell: Optional[str] = typer.Option(None, help=Help.CELL),
    hidden_size: Optional[int] = typer.Option(None, "--hidden", help="Units per recurrent layer."),
    num_layers: Optional[int] = typer.Option(None, "--layers", help=Help.LAYERS),
    embedding_size: Optional[int] = typer.Option(None, "--embedding", help="Embedding size (default: --hidden)."),
    dropout: Optional[float] = typer.Option(None, help="Dropout on non-recurrent connections."),
    locked_dropout: Optional[bool] = typer.Option(None, "--locked-dropout/--no-locked-dropout",
                                                  help="One dropout mask per sequence, shared over time."),
    embedding_dropout: Optional[float] = typer.Option(None, help="Drop whole words of the embedding."),
    weight_drop: Optional[float] = typer.Option(None, help="DropConnect on recurrent weights (AWD-LSTM)."),
    tie_weights: Optional[bool] = typer.Option(None, "--tie-weights/--no-tie-weights",
                                               help="Share the embedding and output matrices."),
    init_range: Optional[float] = typer.Option(None, help="Initialise all weights U(-r, r) (default: torch's)."),
    proj_size: Optional[int] = typer.Option(None, help="LSTM: project each layer's output to this size "
                                            "(Sak et al. 2014; torch.nn.LSTM's proj_size; 0: none)."),
    zoneout: Optional[float] = typer.Option(None, help=Help.ZONEOUT),
    batch_size: Optional[int] = typer.Option(None, help="Number of parallel contiguous streams."),
    bptt: Optional[int] = typer.Option(None, help="Truncated-BPTT window length (tokens)."),
    eval_max_tokens: Optional[int] = typer.Option(None, help="Validate on at most this many tokens while "
                                                  "training (default: all; 1,000,000 with --max-time)."),
    epochs: Optional[int] = typer.Option(None, help="Passes over the training text."),
    optimizer: Optional[str] = typer.Option(None, help="sgd, adam or adamw."),
    lr: Optional[float] = typer.Option(None, help="Learning rate."),
    schedule: Optional[str] = typer.Option(None, help="constant, zaremba (decay each epoch after "
                                           "--decay-start), cosine or plateau."),
    decay: Optional[float] = typer.Option(None, help="Multiplier for the zaremba/plateau schedules."),
    decay_start: Optional[int] = typer.Option(None, help="Epochs at full learning rate (zaremba schedule)."),
    clip: Optional[float] = typer.Option(None, help=Help.CLIP),
    early_stopping: Optional[int] = typer.Option(None, help="Stop after N epochs without a better validation loss."),
    max_time: Optional[float] = typer.Option(None, help="Stop (and save) after this many seconds."),
    max_steps: Optional[int] = typer.Option(None, help="Stop (and save) after this many steps in total."),
    checkpoint_every: Optional[int] = typer.Option(None, help="Steps between mid-epoch checkpoints."),
    seed: Optional[int] = typer.Option(None, help=Help.SEED),
    device: Optional[str] = typer.Option(None, help=Help.DEVICE),
    precision: Optional[str] = typer.Option(None, help=Help.PRECISION),
    bf16: Optional[bool] = typer.Option(None, "--bf16/--no-bf16", help="Same as --precision bf16.", hidden=True),
    sample_every: Optional[float] = typer.Option(None, help="Seconds between samples shown while training (0: off)."),
    prompt: Optional[str] = typer.Option(None, help="Prompt for the samples shown while training."),
    monitor_gradients: Optional[int] = typer.Option(None, help="Every N steps, log |dL/dh_t| for each step of the "
                                                    "window (metrics.jsonl) and warn on exploding/vanishing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or samples."),
    condition_col: Optional[str] = typer.Option(None, help="Conditioned generation: the label column of a "
                                                "table (or 'label' for label-first lines such as SST's)."),
    feature_cols: Optional[str] = typer.Option(None, help="Conditioned generation on feature vectors: "
                                               "comma-separated numeric columns."),
    text_col: Optional[str] = typer.Option(None, help="Read the text from this column of table files (a header "
                                           "names it; 'text' also reads label<TAB>text lines without one), e.g. "
                                           "to fine-tune on a labelled set's texts. Conditioned generation: the "
                                           "sentence column (default 'text')."),
    tokenizer: Optional[str] = typer.Option(None, help="Word models: whitespace (pre-tokenised text, default) or "
                                            "simple (raw text: lowercased words and punctuation). Conditioned "
                                            "generation: simple, whitespace, char or sentencepiece."),
    init_from: Optional[Path] = typer.Option(None, help="Fine-tune a pretrained language model (a checkpoint of "
                                             "lm train) on this text: its architecture, tokenizer, dropouts and "
                                             "vocabulary size (unless given), its vocabulary remapped to this "
                                             "text's (ULMFiT)."),
) -> None:
    """Train a language model with truncated BPTT (state carried between windows).

    With --condition-col (or --feature-cols) it trains a conditioned sentence generator
    instead: each line is one sentence, generated from its label (or feature vector).
    """
    from rnnkit.tasks import lm

    if condition_col or feature_cols:
        from rnnkit.cli.conditioned import train_conditioned

        if (preset or bptt or locked_dropout or embedding_dropout or weight_drop or init_range or monitor_gradients
                or init_from):
            raise ConfigError("--preset, --bptt and the AWD-LSTM options are for stream language models, "
                              "not conditioned generation")
        train_conditioned(files or [], valid, out, resume, overwrite, condition_col, feature_cols, text_col or "text",
                          tokenizer or ("char" if level == "char" else "simple"), dict(
                              cell=cell, hidden_size=hidden_size, num_layers=num_layers,
                              embedding_size=embedding_size, dropout=dropout, tie_weights=tie_weights,
                              batch_size=batch_size, epochs=epochs, optimizer=optimizer, lr=lr, clip=clip,
                              early_stopping=early_stopping, max_time=max_time, seed=seed, device=device,
                              precision=precision),
                          quiet, allow_changed_data)
        return

    if files and str(files[0]).startswith("data:"):  # a dataset by name brings its valid/test files
        first, valid, test = data_splits(files[0], valid, test)
        files = [first, *(data_path(f) or f for f in files[1:])]
    settings = lm.LMSettings.from_preset(
        preset, train_files=[str(f) for f in files] if files else None,
        valid_file=str(valid) if valid else None, test_file=str(test) if test else None,
        level=level, tokenizer=tokenizer, text_col=text_col, init_from=str(init_from) if init_from else None,
        cell=cell, hidden_size=hidden_size, num_layers=num_layers, embedding_size=embedding_size,
        dropout=dropout, locked_dropout=locked_dropout, embedding_dropout=embedding_dropout,
        weight_drop=weight_drop, tie_weights=tie_weights, init_range=init_range, proj_size=proj_size,
        zoneout=zoneout, batch_size=batch_size,
        bptt=bptt, eval_max_tokens=eval_max_tokens, epochs=epochs, optimizer=optimizer, lr=lr, schedule=schedule,
        decay=decay,
        decay_start=decay_start, clip=clip, early_stopping=early_stopping, max_time=max_time, max_steps=max_steps,
        checkpoint_every=checkpoint_every, seed=seed, device=device, precision=precision, bf16=bf16,
        sample_every=0.0 if quiet else sample_every, sample_prompt=prompt, progress=not quiet,
        monitor_gradients=monitor_gradients)
    result = lm.train(settings, out, resume=resume, overwrite=overwrite,
            allow_changed_data=allow_changed_data)
    report_training(result)


#: a language model whose validation loss is above this share of the unigram baseline's has
#: not learned much beyond character (or word) frequencies yet
UNDERTRAINED = 0.85


def report_training(result) -> None:
    """Print where things are and the scores of the best checkpoint; exit 130 if interrupted."""
    from rnnkit.tasks import lm

    console.print(f"stopped: {result.stopped_because} after {result.global_step} steps "
                  f"({result.epochs_completed} full epochs)")
    if result.stopped_because == "interrupted":
        console.print(f"saved {result.last_checkpoint}; resume with: rnnkit lm train --resume --out {result.run_dir}")
        raise typer.Exit(code=130)
    scores = lm.load(result.best_checkpoint).split_scores()
    for split, r in scores.items():
        derived = {k: v for k, v in r.items() if k not in ("loss", "tokens", "unigram_loss")}
        baseline = f"; unigram baseline {r['unigram_loss']:.4f}" if "unigram_loss" in r else ""
        console.print(f"{split}: loss {r['loss']:.4f} nats/token, "
                      + ", ".join(f"{k} {v:.3f}" for k, v in derived.items()) + f" ({r['tokens']:,} tokens)"
                      + baseline, highlight=False)
    console.print(f"best checkpoint: {result.best_checkpoint}")
    valid = scores.get("valid", {})
    if "unigram_loss" in valid and valid["loss"] > UNDERTRAINED * valid["unigram_loss"]:
        # "barely better" would be false when it is in fact worse than the unigram counts
        verdict = "no better than" if valid["loss"] >= valid["unigram_loss"] else "barely better than"
        console.print(f"[yellow]warning: after {result.global_step} steps the model is {verdict} counting "
                      f"tokens (valid loss {valid['loss']:.2f} against the unigram baseline's "
                      f"{valid['unigram_loss']:.2f}); it stopped too early to mean much, and its samples will read "
                      "as noise. Train longer (more --epochs or --max-time; for the demo, --seconds).[/]",
                      highlight=False)


@app.command()
@user_errors
def generate(
    checkpoint: Path = typer.Argument(..., help="A language-model checkpoint (e.g. runs/lm/best.safetensors)."),
    prompt: Optional[str] = typer.Option(None, "--prompt", "-p", help="Text to start from (default: a newline)."),
    length: Optional[int] = typer.Option(None, "--length", "-n", help="Tokens to generate (default 500; "
                                         "conditioned models: at most this many tokens per sentence)."),
    temperature: float = typer.Option(0.8, "--temperature", "-t", help="Softmax temperature; 0 = greedy."),
    top_k: Optional[int] = typer.Option(None, help="Sample only from the k most likely tokens."),
    top_p: Optional[float] = typer.Option(None, help="Nucleus sampling: smallest set with probability >= p."),
    seed: Optional[int] = typer.Option(None, help="Random seed for reproducible samples."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
    condition: Optional[str] = typer.Option(None, "--condition", "-c", help="Conditioned models: the label "
                                            "(or comma-separated feature values) to generate for."),
    samples: int = typer.Option(1, "--samples", "-s", help="Conditioned models: sentences to generate."),
) -> None:
    """Generate text from a trained language model (or a conditioned generator, with --condition)."""
    from rnnkit.tasks import lm
    from rnnkit.tasks.io import checkpoint_task

    if checkpoint_task(checkpoint) == "conditioned_lm":
        from rnnkit.cli.conditioned import generate_conditioned

        if prompt:
            raise ConfigError("a conditioned generator starts from its condition, not a --prompt")
        generate_conditioned(checkpoint, condition, samples, temperature, top_k, top_p, seed, device, length)
        return
    if condition is not None:
        raise ConfigError(f"{checkpoint} is a plain language model; --condition needs a conditioned one "
                          "(trained with --condition-col)")
    model = lm.load(checkpoint, device=device)
    text = model.generate(prompt, length=500 if length is None else length, temperature=temperature,
                          top_k=top_k, top_p=top_p, seed=seed)
    typer.echo(text)


@app.command()
@user_errors
def evaluate(
    checkpoint: Path = typer.Argument(..., help="A language-model checkpoint."),
    file: Path = typer.Argument(..., help="A UTF-8 text file to score."),
    bptt: int = typer.Option(256, help="Window length; the state carries across windows (only speed changes)."),
    batch_size: Optional[int] = typer.Option(None, help="Parallel streams (default: one per million tokens, "
                                                        "so each token sees up to a million tokens of context)."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
    json_out: Path = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
) -> None:
    """Perplexity and bits per token of a model on a text file, beside a unigram baseline
    (word models: and the share of words never seen in training, scored as <unk>)."""
    import json

    from rnnkit.tasks import lm
    from rnnkit.tasks.io import atomic_write_text

    model = lm.load(checkpoint, device=device)
    file = scoring_path(file)  # data:NAME: its test file
    r = model.evaluate(file, batch_size=batch_size, bptt=bptt)
    unit = "char" if model.vocab_.level == "char" else "word"
    console.print(f"{file}: {r['tokens']:,} {unit}s")
    console.print(f"  loss {r['loss']:.4f} nats/{unit}   perplexity {r['ppl']:.2f}   "
                  f"{r['bits_per_token']:.4f} bits/{unit}")
    if "oov_rate" in r:
        console.print(f"  out of vocabulary: {100 * r['oov_rate']:.1f} % of the words were never seen in training "
                      f"and were scored as <unk> (this lowers the perplexity); <unk> already in the text: "
                      f"{100 * r['unk_in_text_rate']:.1f} %", highlight=False)
    if "unigram_loss" in r:
        console.print(f"  unigram baseline: loss {r['unigram_loss']:.4f} nats/{unit}", highlight=False)
    if json_out is not None:
        atomic_write_text(json_out, json.dumps({"file": str(file), **r}, indent=2))
