"""``rnnkit inspect``: look inside recurrent networks (gradient flow through time)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from rnnkit.cli.common import console, user_errors

app = typer.Typer(help="Look inside recurrent networks: how gradients flow back through time.",
                  no_args_is_help=True)


def _checkpoint_flow(path: Path, text: Optional[str], length: int, probes: int, seed: int):
    """Gradient flow through the first recurrent layer of a trained model, reading ``text``
    (through the model's embedding) or, without text, random tokens / N(0, 1) steps."""
    import torch

    from rnnkit.diagnostics.gradient_flow import jacobian_norms
    from rnnkit.errors import DataError
    from rnnkit.layers import Recurrent
    from rnnkit.training import load_checkpoint
    from rnnkit.training.model_io import build_model

    ck = load_checkpoint(path)
    model = build_model(ck, str(path))
    rnn = next((m for m in model.modules() if isinstance(m, Recurrent)), None)
    if rnn is None:
        raise DataError(f"{path} holds no recurrent layer")
    cell = rnn.cells[0]
    gen = torch.Generator().manual_seed(seed)
    embedding = getattr(model, "embedding", None)
    if embedding is not None:
        if text is not None:
            from rnnkit.data import Vocab

            vocab = Vocab.from_dict(ck.meta["vocab"])
            tokens = list(text) if vocab.level == "char" else text.split()
            ids = torch.as_tensor(vocab.encode(tokens))
            if len(ids) == 0:
                raise DataError("--text is empty")
            ids = ids.repeat(-(-length // len(ids)))[:length]
        else:
            ids = torch.randint(0, embedding.num_embeddings, (length,), generator=gen)
        inputs = embedding(ids).detach()
    else:
        inputs = torch.randn(length, cell.input_size, generator=gen)
    label = f"{path.name}: {rnn.cell_type} layer 1"
    return jacobian_norms(cell, inputs, probes, seed, label=label)


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
    from rnnkit.cells import CELL_TYPES
    from rnnkit.diagnostics.gradient_flow import fresh_cell_flows, plot_gradient_flow
    from rnnkit.errors import ConfigError

    if length < 2:
        raise ConfigError("--length must be at least 2")
    if checkpoints:
        flows = [_checkpoint_flow(p, text, length, probes, seed) for p in checkpoints]
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
        json_out.write_text(json.dumps([f.to_dict() for f in flows]), encoding="utf-8")
        console.print(f"norms: {json_out}", highlight=False)
