"""The trainer task of every sentence-at-a-time generator: cross-entropy per output token.

Used by the conditioned generator and the translator. ``loss_fn(model, batch, device) ->
(mean loss per token, tokens)``; sentences are independent, so no state is carried, and
the validation loss is the token-weighted mean over the validation batches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.sentences import PAD_ID
from rnnkit.evaluation import perplexity


def token_cross_entropy(logits: Tensor, targets: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy over the real tokens of ``targets`` (B, T); ``<pad>`` (id 0) is skipped."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=PAD_ID,
                           label_smoothing=label_smoothing)


class TokenLossTask:
    carries_state = False
    item_unit = "tok"  # what the progress bar's rate counts: target tokens

    def __init__(self, model, train, valid, meta: dict, loss_fn: Callable, sampler: Callable | None = None) -> None:
        self.model, self.train, self.valid, self._meta = model, train, valid, meta
        self.loss_fn, self._sampler = loss_fn, sampler

    def data_fingerprint(self) -> str:
        return fingerprint(self.train, self.valid)

    def train_batches(self, epoch: int):
        return self.train.for_epoch(epoch)

    def train_step(self, model, batch, state):
        loss, n = self.loss_fn(model, batch, next(model.parameters()).device)
        return loss, None, n

    @torch.no_grad()
    def evaluate(self, model, split: str = "valid") -> dict:
        was = model.training
        model.eval()
        device = next(model.parameters()).device
        total, count = 0.0, 0
        for batch in self.valid.for_epoch(0):
            loss, n = self.loss_fn(model, batch, device)
            total, count = total + float(loss) * n, count + n
        model.train(was)
        return {"loss": total / max(1, count), "tokens": count}

    def describe(self, loss: float) -> dict:
        return {"ppl": perplexity(loss)}

    def meta(self) -> dict:
        return self._meta

    def sample(self, model) -> str:
        return self._sampler(model) if self._sampler else ""
