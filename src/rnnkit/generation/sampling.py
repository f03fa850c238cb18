"""Sampling tokens from a model step by step (char-rnn's ``sample.lua``, nanoGPT's ``generate``).

The prompt is read with one full forward pass; every further token is one ``model.step``
with the carried state, so generating ``n`` tokens costs ``n`` steps, not ``n`` passes
over a growing prefix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnkit.errors import ConfigError


def check_sampling(temperature: float, top_k: int | None = None, top_p: float | None = None) -> None:
    """A :class:`ConfigError` for settings no sampler can use (checked even when greedy)."""
    if not math.isfinite(temperature) or temperature < 0:
        raise ConfigError(f"temperature must be a number >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ConfigError(f"top_k must be at least 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ConfigError(f"top_p must be in (0, 1], got {top_p}")


def sample_next(logits: Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> Tensor:
    """One token per row of ``logits`` (B, V).

    ``temperature == 0`` is greedy (argmax, deterministic). Otherwise the logits are
    divided by the temperature, cut to the ``top_k`` most likely tokens and/or the
    smallest set whose probability reaches ``top_p`` (nucleus sampling, Holtzman et al.
    2020), and sampled.
    """
    check_sampling(temperature, top_k, top_p)
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # drop a token when the tokens before it already reach top_p (the first always stays)
        drop_sorted = (cumulative - sorted_logits.softmax(-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def sample_next_numpy(logits: np.ndarray, temperature: float, top_k: int | None, top_p: float | None,
                      rng: np.random.Generator) -> np.ndarray:
    """:func:`sample_next` on NumPy logits (B, V) with a NumPy generator: the same rules
    (greedy at temperature 0, then top-k, then nucleus), without torch's per-call cost."""
    if temperature == 0:
        return logits.argmax(-1)
    z = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < z.shape[-1]:
        kth = np.partition(z, -top_k, axis=-1)[:, -top_k:].min(-1, keepdims=True)
        z = np.where(z < kth, -np.inf, z)
    z -= z.max(-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(-1, keepdims=True)
    if top_p is not None and top_p < 1:
        order = np.argsort(-p, axis=-1)
        sorted_p = np.take_along_axis(p, order, -1)
        drop_sorted = (np.cumsum(sorted_p, -1) - sorted_p) >= top_p  # the first token always stays
        drop = np.empty_like(drop_sorted)
        np.put_along_axis(drop, order, drop_sorted, -1)
        p = np.where(drop, 0.0, p)
        p /= p.sum(-1, keepdims=True)
    cumulative = np.cumsum(p, -1)
    u = rng.random((p.shape[0], 1)) * cumulative[:, -1:]
    return np.minimum((cumulative < u).sum(-1), p.shape[-1] - 1)


@dataclass
class Generated:
    ids: list[int]  # the generated tokens (prompt excluded)
    logits: list[Tensor] | None = None  # (V,) logits each token was drawn from, if asked for


@torch.no_grad()
def generate(model, prompt_ids: list[int] | Tensor, length: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
             return_logits: bool = False, engine: str = "auto") -> Generated:
    """Continue ``prompt_ids`` (at least one token) by ``length`` tokens with ``model``.

    ``model`` maps ids (B, T) -> (logits (B, T, V), state) and has ``step(ids (B,), state)``.
    The prompt is read in one full forward pass; then, for a
    :class:`~rnnkit.models.LanguageModel` on the CPU (``engine`` ``auto`` or ``numpy``),
    every further token is one step of the NumPy :class:`~rnnkit.inference.StepEngine`
    (7-10x the characters per second of torch's ``step`` at batch 1); otherwise
    (``engine="torch"``, a GPU, another model) the model's own ``step``.
    """
    check_sampling(temperature, top_k, top_p)
    if length < 0:
        raise ConfigError(f"length must be >= 0, got {length}")
    prompt = torch.as_tensor(prompt_ids, dtype=torch.long).flatten()
    if prompt.numel() == 0:
        raise ConfigError("the prompt must contain at least one token")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    logits, state = model(prompt.to(device).unsqueeze(0))
    last = logits[:, -1]  # (1, V)
    from rnnkit.inference.engine import resolve_engine
    from rnnkit.models.language_model import LanguageModel

    if isinstance(model, LanguageModel) and resolve_engine(engine, device) == "numpy":
        from rnnkit.inference.token_streams import LanguageStream

        stream = LanguageStream(model, 1)
        stream.set_torch_state(state)
        out, seen = _generate_numpy(stream, last.cpu().numpy(), length, temperature, top_k, top_p,
                                    np.random.default_rng(seed), return_logits)
    else:
        gen = torch.Generator(device="cpu")
        gen.manual_seed(seed)
        out, seen = [], []
        for _ in range(length):
            if return_logits:
                seen.append(last[0].cpu())
            token = sample_next(last.cpu(), temperature, top_k, top_p, gen)  # (1,)
            out.append(int(token))
            last, state = model.step(token.to(device), state)
    model.train(was_training)
    return Generated(out, seen if return_logits else None)


def _generate_numpy(stream, last: np.ndarray, length: int, temperature: float, top_k: int | None,
                    top_p: float | None, rng: np.random.Generator, return_logits: bool
                    ) -> tuple[list[int], list[Tensor]]:
    out: list[int] = []
    seen: list[Tensor] = []
    token = np.zeros(1, np.int64)
    for _ in range(length):
        if return_logits:
            seen.append(torch.from_numpy(last[0].copy()))
        token[0] = sample_next_numpy(last, temperature, top_k, top_p, rng)[0]
        out.append(int(token[0]))
        last = stream.advance(token)  # the stream's reused logits buffer: read before the next step
    return out, seen


@torch.no_grad()
def sample_sequences(step, state, batch: int, bos_id: int, eos_id: int, max_length: int,
                     temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                     seed: int | None = None, device: torch.device | str = "cpu") -> list[list[int]]:
    """``batch`` sequences drawn token by token until each writes ``eos_id`` (or reaches
    ``max_length``), all starting from ``bos_id``; the ids exclude ``<bos>`` and ``<eos>``.

    ``step(tokens (B,), state) -> (logits (B, V), state)`` is the model's one-step
    function with whatever it conditions on bound in (a class, an encoded source).
    """
    check_sampling(temperature, top_k, top_p)
    if max_length < 1:
        raise ConfigError(f"max_length must be at least 1, got {max_length}")
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed if seed is not None else int(torch.randint(0, 2**62, (1,)).item()))
    tokens = torch.full((batch,), bos_id, dtype=torch.long, device=device)
    out = torch.full((batch, max_length), eos_id, dtype=torch.long)
    done = torch.zeros(batch, dtype=torch.bool)
    for t in range(max_length):
        logits, state = step(tokens, state)
        nxt = sample_next(logits.cpu(), temperature, top_k, top_p, gen)
        nxt[done] = eos_id  # finished sequences only pad
        out[:, t] = nxt
        done |= nxt == eos_id
        if done.all():
            break
        tokens = nxt.to(device)
    result = []
    for row in out.tolist():
        result.append(row[: row.index(eos_id)] if eos_id in row else row)
    return result


def sample_stream_sequences(stream, bos_id: int, eos_id: int, max_length: int, temperature: float = 1.0,
                            top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                            logit_bias: np.ndarray | None = None) -> list[list[int]]:
    """:func:`sample_sequences` over an open token stream (its batch: one sequence each),
    through the NumPy step engine; ``logit_bias`` (V,) is added before sampling."""
    check_sampling(temperature, top_k, top_p)
    if max_length < 1:
        raise ConfigError(f"max_length must be at least 1, got {max_length}")
    rng = np.random.default_rng(seed)
    batch = stream.batch
    tokens = np.full(batch, bos_id, np.int64)
    out = np.full((batch, max_length), eos_id, np.int64)
    done = np.zeros(batch, bool)
    for t in range(max_length):
        logits = stream.advance(tokens)
        if logit_bias is not None:
            logits = logits + logit_bias
        nxt = sample_next_numpy(logits, temperature, top_k, top_p, rng)
        nxt[done] = eos_id  # finished sequences only pad
        out[:, t] = nxt
        done |= nxt == eos_id
        if done.all():
            break
        tokens = nxt.astype(np.int64)
    return [row[: row.index(eos_id)] if eos_id in row else row for row in out.tolist()]
