"""``rnnkit inspect``: look inside recurrent networks (gradient flow through time)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from rnnkit.cli.common import Help, console, user_errors
from rnnkit.tasks.io import atomic_write_text

app = typer.Typer(help="Look inside recurrent networks: how gradients flow back through time.",
                  no_args_is_help=True)


@app.command()
@user_errors
def gradients(
    checkpoints: Optional[List[Path]] = typer.Argument(None, help="Checkpoints to measure (first recurrent layer). "
                                                       "Without any, fresh cells of --cells are compared."),
    cells: str = typer.Option("rnn_tanh,gru,lstm", help="Fresh cells to compare (comma-separated)."),
    length: int = typer.Option(200, help="Sequence length T."),
    hidden_size: int = typer.Option(64, "--hidden", help="Fresh cells: hidden units."),
    input_size: int = typer.Option(8, "--input", help="Fresh cells: input features (inputs are N(0, 1))."),
    text: Optional[str] = typer.Option(None, help="Checkpoints with an embedding: the text to read "
                                       "(repeated to --length); default random tokens."),
    probes: int = typer.Option(32, help="Random probe vectors (error about 1/sqrt(probes))."),
    seed: int = typer.Option(0, help="Random seed for weights, inputs and probes."),
    out: Path = typer.Option(Path("gradient_flow.png"), "--out", "-o", help="PNG of the norms (log scale)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the norms as JSON."),
) -> None:
    """Plot ||dh_T/dh_t|| against T - t: how much gradient survives the trip back through time."""
    from rnnkit.errors import ConfigError
    from rnnkit.tasks.inspect import CELL_TYPES, checkpoint_flow, fresh_cell_flows, plot_gradient_flow

    if length < 2:
        raise ConfigError("--length must be at least 2")
    if checkpoints:
        flows = [checkpoint_flow(p, text, length, probes, seed) for p in checkpoints]
    else:
        names = [c.strip() for c in cells.split(",") if c.strip()]
        unknown = [c for c in names if c not in CELL_TYPES]
        if unknown or not names:
            raise ConfigError(f"unknown cell {', '.join(unknown) or '(none)'}; choose from {', '.join(CELL_TYPES)}")
        flows = fresh_cell_flows(names, length, hidden_size, input_size, probes, seed)
    for f in flows:
        d = min(len(f.norms) - 1, 10), len(f.norms) - 1
        console.print(f"{f.label:>32}: |dh_T/dh_t| {f.norms[0]:.3g} at d=0, {f.norms[d[0]]:.3g} at d={d[0]}, "
                      f"{f.norms[d[1]]:.3g} at d={d[1]}  (x{f.decay_per_step():.4f} per step)", highlight=False)
    png = plot_gradient_flow(flows, out)
    if png:
        console.print(f"plot: {png}", highlight=False)
    if json_out:
        atomic_write_text(json_out, json.dumps([f.to_dict() for f in flows]))
        console.print(f"norms: {json_out}", highlight=False)


@app.command("long-range")
@user_errors
def long_range(
    task: str = typer.Option("adding", help="adding (sum two marked values) or copy (recall 10 symbols)."),
    cells: str = typer.Option("rnn_tanh,irnn,gru,lstm", help="Cells to compare (comma-separated); irnn is the "
                              "ReLU Elman cell started at the identity, the one whose gradients explode."),
    lengths: str = typer.Option("10,50,100,200", help="Sequence lengths (lags), comma-separated."),
    steps: int = typer.Option(1000, help="Training steps per run (fresh random batches of 64)."),
    hidden_size: int = typer.Option(64, "--hidden", help="Hidden units."),
    lr: float = typer.Option(1e-3, help="Adam learning rate."),
    clip: str = typer.Option("1,none", help="Gradient clipping: comma-separated max norms, 'none' for no "
                             "clipping; one panel each."),
    forget_bias: str = typer.Option("1", help="LSTM forget-gate bias at the start ('none': torch's init)."),
    seed: int = typer.Option(0, help=Help.SEED),
    out: Path = typer.Option(Path("long_range.png"), "--out", "-o", help="PNG: score against length."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write every run's result as JSON."),
) -> None:
    """Train each cell on a long-range memory task at growing lengths: which still solves it?"""
    from rnnkit.errors import ConfigError
    from rnnkit.tasks.inspect import CELL_TYPES, EXTRA_CELLS, TASKS, plot_long_range, run_long_range

    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    names = [c.strip() for c in cells.split(",") if c.strip()]
    known = (*CELL_TYPES, *EXTRA_CELLS)
    unknown = [c for c in names if c not in known]
    if unknown or not names:
        raise ConfigError(f"unknown cell {', '.join(unknown) or '(none)'}; choose from {', '.join(known)}")
    try:
        lens = [int(v) for v in lengths.split(",")]
        clips = [None if v.strip().lower() == "none" else float(v) for v in clip.split(",")]
        fbias = None if forget_bias.strip().lower() == "none" else float(forget_bias)
    except ValueError:
        raise ConfigError("--lengths takes integers, --clip and --forget-bias numbers or 'none'") from None
    if min(lens) < 2 or steps < 1:
        raise ConfigError("--lengths must be at least 2 and --steps at least 1")

    def show(r) -> None:
        what = f"MSE {r.score:.4f}" if r.task == "adding" else f"accuracy {r.score:.3f}"
        console.print(f"{r.cell:>9} T={r.length:<5} clip={r.clip!s:<5} {what}  "
                      f"{'solved' if r.solved else 'not solved'}{' (diverged)' if r.diverged else ''}  "
                      f"max |grad| {r.max_grad_norm:.3g}  {r.seconds:.0f} s", highlight=False)

    results = run_long_range(task, names, lens, clips, steps, hidden_size, seed, on_result=show, lr=lr,
                             forget_bias=fbias)
    png = plot_long_range(results, out)
    if png:
        console.print(f"plot: {png}", highlight=False)
    if json_out:
        atomic_write_text(json_out, json.dumps([r.to_dict() for r in results], indent=1))
        console.print(f"results: {json_out}", highlight=False)


@app.command()
@user_errors
def activations(
    checkpoint: Path = typer.Argument(..., help="A language-model checkpoint (e.g. runs/demo/best.safetensors)."),
    text: Optional[str] = typer.Option(None, help="Text for the model to read (default: a sample it generates)."),
    text_file: Optional[Path] = typer.Option(None, help="Read the text from this UTF-8 file instead."),
    max_tokens: int = typer.Option(1500, help="Read at most this many tokens (the page embeds every unit)."),
    out: Path = typer.Option(Path("activations.html"), "--out", "-o", help="The HTML page to write."),
    seed: int = typer.Option(0, help="Seed for the generated default text."),
) -> None:
    """Record gates and cell states while a language model reads text; write an HTML page."""
    from rnnkit.errors import DataError
    from rnnkit.tasks import lm
    from rnnkit.tasks.inspect import gate_saturation, record_activations, write_activation_page
    from rnnkit.tasks.io import read_text

    trained = lm.load(checkpoint)
    if text_file is not None:
        text = read_text(text_file)
    if text is None:
        text = trained.generate(length=600, temperature=0.8, seed=seed)
    if not text:
        raise DataError("no text to read: --text is empty")
    tokens = list(text) if trained.vocab_.level == "char" else text.split()
    vocab = trained.vocab_
    if vocab.level == "char" and vocab.unk_id is None:
        # a character model has no <unk>: read the text without the characters it never saw, and say so
        unseen = sorted({t for t in tokens if t not in vocab})
        if unseen:
            kept = [t for t in tokens if t in vocab]
            dropped = len(tokens) - len(kept)
            console.print(f"note: left out {dropped} character{'s' if dropped > 1 else ''} the model never saw in "
                          f"training "
                          f"({''.join(unseen[:20])!r}{', ...' if len(unseen) > 20 else ''})", highlight=False)
            tokens = kept
            if not tokens:
                raise DataError("no character of the text is in the model's vocabulary")
    text = "".join(tokens[:max_tokens]) if vocab.level == "char" else " ".join(tokens[:max_tokens])
    rec = record_activations(trained.model_, trained.vocab_, text)
    write_activation_page(rec, out, title=f"{checkpoint.name}: units while reading {len(rec.tokens)} tokens")
    for row in gate_saturation(rec):
        console.print(f"layer {row['layer'] + 1} {row['gate']:>8} gate: {100 * row['near_0']:5.1f} % near 0, "
                      f"{100 * row['near_1']:5.1f} % near 1", highlight=False)
    console.print(f"page: {out}", highlight=False)
