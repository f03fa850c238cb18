"""What a language model's units do while it reads: gates, cell and hidden states.

:func:`record_activations` feeds a text through a trained :class:`LanguageModel` one
token at a time (eval mode, batch 1) and keeps, for every layer and step, the hidden state
``h``, the LSTM's memory cell ``c`` and every gate (LSTM: input, forget, output and the
candidate; GRU: reset, update, candidate). :func:`feature_correlations` ranks units by
how well they track simple properties of the text (inside quotes, position in the line,
indentation depth, inside brackets), which is how Karpathy, Johnson and Fei-Fei (2015)
found interpretable cells; :func:`gate_saturation` gives the fraction of gate values
near 0 or 1 per layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from rnnkit.data import Vocab


@dataclass
class Recording:
    """``tokens``: the tokens read; ``signals[layer][name]``: (T, H) arrays (``h``, ``c``, gates)."""

    tokens: list[str]
    signals: list[dict[str, np.ndarray]]
    cell_type: str
    level: str = "char"


@torch.no_grad()
def record_activations(model, vocab: Vocab, text: str) -> Recording:
    """Run ``model`` (a ``LanguageModel``) over ``text`` and record every unit at every step."""
    tokens = list(text) if vocab.level == "char" else text.split()
    ids = torch.as_tensor(vocab.encode(tokens))
    model = model.eval()
    rnn = model.rnn
    x = model.embedding(ids)  # (T, E)
    signals: list[dict[str, np.ndarray]] = []
    for layer in range(rnn.num_layers):
        cell = rnn.cells[layer]
        gi = F.linear(x, cell.weight_ih, cell.bias_ih)  # (T, G*H): all input projections at once
        state = cell.initial_state(1, x.device, x.dtype)
        rows: dict[str, list[torch.Tensor]] = {}
        outputs = []
        for t in range(len(tokens)):
            h, state, gates = cell.recur_with_gates(gi[t:t + 1], state, cell.weight_hh, cell.bias_hh)
            outputs.append(h[0])
            rows.setdefault("h", []).append(h[0])
            if len(state) > 1:
                rows.setdefault("c", []).append(state[1][0])
            for name, value in gates.items():
                rows.setdefault(name, []).append(value[0])
        signals.append({name: torch.stack(v).float().numpy() for name, v in rows.items()})
        x = torch.stack(outputs)  # the next layer reads this layer's outputs
    return Recording(tokens, signals, rnn.cell_type, vocab.level)


def text_features(tokens: list[str]) -> dict[str, np.ndarray]:
    """Per-token features of a character stream: inside "..." or '...', column in the line,
    indentation depth (leading spaces of the line), bracket depth ((), [], {}).

    A tripled quote (Python's \"\"\" or \'\'\') opens or closes one string, and a ``'``
    between two letters or digits is an apostrophe (``don't``), not a quote.
    """
    quote = None  # the closing delimiter we are waiting for: '"', "'", '"""' or "'''"
    skip = 0  # the rest of a tripled delimiter already handled
    column = indent = depth = 0
    at_line_start = True
    feats: dict[str, list[float]] = {"inside quotes": [], "position in line": [], "indentation": [],
                                     "inside brackets": []}
    for i, tok in enumerate(tokens):
        if tok in ("(", "[", "{") and not quote:
            depth += 1
        feats["inside quotes"].append(1.0 if quote or skip else 0.0)
        feats["position in line"].append(float(column))
        feats["indentation"].append(float(indent))
        feats["inside brackets"].append(float(depth > 0))
        if tok in (")", "]", "}") and not quote:
            depth = max(0, depth - 1)
        if skip:
            skip -= 1
        elif tok in ('"', "'"):
            triple = "".join(tokens[i:i + 3]) == tok * 3
            apostrophe = (tok == "'" and 0 < i < len(tokens) - 1 and tokens[i - 1].isalnum()
                          and tokens[i + 1].isalnum())
            delim = tok * 3 if triple else tok
            if quote == delim:
                quote, skip = None, 2 if triple else 0
            elif quote is None and not apostrophe:
                quote, skip = delim, 2 if triple else 0
        if tok == "\n":
            column, indent, at_line_start = 0, 0, True
        else:
            column += 1
            if at_line_start and tok == " ":
                indent += 1
            elif tok != " ":
                at_line_start = False
    return {k: np.asarray(v) for k, v in feats.items()}


def _correlations(values: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``values`` (T, H) with ``feature`` (T,)."""
    v = values - values.mean(0)
    f = feature - feature.mean()
    denom = np.sqrt((v ** 2).sum(0) * (f ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (v * f[:, None]).sum(0) / denom
    return np.nan_to_num(r)


def feature_correlations(rec: Recording, top: int = 5) -> list[dict]:
    """For every feature, the ``top`` units (any layer, ``h`` or ``c``) most correlated with it."""
    feats = text_features(rec.tokens)
    out = []
    for fname, f in feats.items():
        if f.std() == 0:
            continue  # the text never changes this feature (e.g. no quotes)
        cands: list[dict[str, Any]] = []
        for layer, sig in enumerate(rec.signals):
            for sname in ("c", "h"):
                if sname in sig:
                    r = _correlations(sig[sname], f)
                    for unit in np.argsort(-np.abs(r))[:top]:
                        cands.append({"feature": fname, "layer": layer, "signal": sname, "unit": int(unit),
                                      "r": float(r[unit])})
        out.extend(sorted(cands, key=lambda d: -abs(d["r"]))[:top])
    return out


def gate_saturation(rec: Recording, low: float = 0.1, high: float = 0.9) -> list[dict]:
    """Per layer and sigmoid gate: fractions of values below ``low`` and above ``high``."""
    rows = []
    for layer, sig in enumerate(rec.signals):
        for name, v in sig.items():
            if name in ("h", "c", "candidate"):
                continue
            rows.append({"layer": layer, "gate": name, "near_0": float((v < low).mean()),
                         "near_1": float((v > high).mean()), "mean": float(v.mean())})
    return rows
