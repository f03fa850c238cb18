"""Look inside recurrent networks: the library side of ``rnnkit inspect``.

* :func:`checkpoint_flow` -- gradient flow ``||dh_T/dh_t||`` through the first recurrent
  layer of a trained model (:mod:`rnnkit.diagnostics.gradient_flow`);
* fresh-cell flows, the long-range experiment, and the activation page, re-exported from
  :mod:`rnnkit.diagnostics` (loaded on first use).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch

from rnnkit.data import Vocab
from rnnkit.diagnostics.gradient_flow import GradientFlow, jacobian_norms
from rnnkit.errors import DataError
from rnnkit.layers import Recurrent
from rnnkit.training import build_model, load_checkpoint


def checkpoint_flow(path: str | Path, text: str | None = None, length: int = 200, probes: int = 32,
                    seed: int = 0) -> GradientFlow:
    """Gradient flow through the first recurrent layer of a trained model, reading ``text``
    (through the model's embedding, repeated to ``length``) or, without text, random
    tokens / N(0, 1) steps."""
    path = Path(path)
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
    return jacobian_norms(cell, inputs, probes, seed, label=f"{path.name}: {rnn.cell_type} layer 1")


_WHERE = {
    "CELL_TYPES": "rnnkit.cells",
    "fresh_cell_flows": "rnnkit.diagnostics.gradient_flow",
    "plot_gradient_flow": "rnnkit.diagnostics.gradient_flow",
    "EXTRA_CELLS": "rnnkit.diagnostics.long_range",
    "TASKS": "rnnkit.diagnostics.long_range",
    "plot_long_range": "rnnkit.diagnostics.long_range",
    "run_long_range": "rnnkit.diagnostics.long_range",
    "write_activation_page": "rnnkit.diagnostics.activation_page",
    "gate_saturation": "rnnkit.diagnostics.activations",
    "record_activations": "rnnkit.diagnostics.activations",
}

__all__ = ["checkpoint_flow", *_WHERE]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'rnnkit.tasks.inspect' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
