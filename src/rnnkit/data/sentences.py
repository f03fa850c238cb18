"""Sentences to token ids and back, for models that read or write one sentence at a time.

A :class:`SentenceCodec` tokenises a sentence, maps tokens to ids with a vocabulary fitted
on training sentences, and turns generated ids back into readable text. The
vocabulary starts with four specials: ``<pad>`` = 0 (padding), ``<unk>`` = 1 (tokens
rarer than ``min_freq``), ``<bos>`` = 2 (what a decoder reads before the first token) and
``<eos>`` = 3 (what it writes after the last).

Tokenisers (``tokenizer=``):

* ``"simple"`` (default): words and single punctuation marks, ``"A man's hat."`` ->
  ``a man's hat .`` (lowercased unless ``lowercase=False``); :meth:`decode` joins them
  back with the usual spacing rules, so metrics such as BLEU see detokenised text;
* ``"whitespace"``: the sentence is already tokenised (``stsa.binary.train``, Moses output);
* ``"char"``: one token per character (decoding joins them directly);
* ``"sentencepiece"``: subwords from a SentencePiece model trained on the training
  sentences (Kudo & Richardson 2018; needs ``pip install sentencepiece``). The trained
  model is stored with the codec, so a checkpoint carries everything to decode.
"""

from __future__ import annotations

import base64
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.sequences import pad_batch
from rnnkit.data.vocab import BOS, EOS, PAD, SEQ2SEQ, UNK, Vocab
from rnnkit.data.word_split import simple_tokens
from rnnkit.errors import ConfigError, DataError

SPECIALS = SEQ2SEQ  # every sentence vocabulary follows the sequence-to-sequence policy
PAD_ID, UNK_ID, BOS_ID, EOS_ID = (SEQ2SEQ.index(t) for t in (PAD, UNK, BOS, EOS))
TOKENIZERS = ("simple", "whitespace", "char", "sentencepiece")

_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}»])")
_NO_SPACE_AFTER = re.compile(r"([(\[{«¿¡]) ")


def decoder_targets(sentences: Sequence[np.ndarray]) -> tuple[Tensor, Tensor, Tensor]:
    """Teacher forcing for a decoder: inputs ``<bos> y_1 .. y_n`` and targets ``y_1 .. y_n
    <eos>``, both (B, T) padded with ``<pad>`` (0), and the lengths ``n + 1`` (B,)."""
    inputs, lengths = pad_batch([np.concatenate([[BOS_ID], s]) for s in sentences], torch.long)
    targets, _ = pad_batch([np.concatenate([s, [EOS_ID]]) for s in sentences], torch.long)
    return inputs, targets, lengths


def detokenize(tokens: Sequence[str]) -> str:
    """Words joined by spaces, without the space before closing punctuation or after opening."""
    text = " ".join(tokens)
    return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))


class SentenceCodec:
    """Tokeniser + vocabulary for one language (or one side of a translation pair)."""

    def __init__(self, vocab: Vocab, tokenizer: str = "simple", lowercase: bool = True,
                 sp_model: bytes | None = None) -> None:
        if tokenizer not in TOKENIZERS:
            raise ConfigError(f"unknown tokenizer {tokenizer!r}; choose one of {', '.join(TOKENIZERS)}")
        if vocab.specials != SPECIALS:
            raise ValueError(f"a sentence vocabulary starts with {SPECIALS}")
        self.vocab, self.tokenizer, self.lowercase, self.sp_model = vocab, tokenizer, lowercase, sp_model
        self._sp = None
        if tokenizer == "sentencepiece":
            if sp_model is None:
                raise ConfigError("the sentencepiece tokenizer needs its trained model")
            self._sp = _load_sentencepiece(sp_model)

    # ------------------------------------------------------------- fitting
    @classmethod
    def fit(cls, sentences: Iterable[str], tokenizer: str = "simple", lowercase: bool = True,
            min_freq: int = 1, max_size: int | None = None, sp_vocab_size: int = 8000) -> SentenceCodec:
        """Vocabulary of the training ``sentences``: specials, then tokens by frequency."""
        sentences = list(sentences)
        if not sentences:
            raise DataError("no training sentences to build a vocabulary from")
        if tokenizer not in TOKENIZERS:
            raise ConfigError(f"unknown tokenizer {tokenizer!r}; choose one of {', '.join(TOKENIZERS)}")
        sp_model = None
        if tokenizer == "sentencepiece":
            text = [s.lower() if lowercase else s for s in sentences]
            sp_model = _train_sentencepiece(text, sp_vocab_size)
        probe = cls(Vocab(list(SPECIALS), level="word", unk=UNK, specials=SPECIALS), tokenizer, lowercase, sp_model)
        vocab = Vocab.build_words((probe.tokenize(s) for s in sentences), min_freq=min_freq,
                                  max_size=max_size, specials=SPECIALS)
        if len(vocab) == len(SPECIALS):
            raise DataError("the training sentences contain no tokens")
        return cls(vocab, tokenizer, lowercase, sp_model)

    # ------------------------------------------------------------- encoding
    def tokenize(self, sentence: str) -> list[str]:
        text = sentence.strip()
        if self.lowercase:
            text = text.lower()
        if self.tokenizer == "simple":
            return simple_tokens(text)
        if self.tokenizer == "whitespace":
            return text.split()
        if self.tokenizer == "char":
            return list(text)
        if self._sp is None:
            raise ConfigError(f"unknown tokenizer {self.tokenizer!r}")
        return self._sp.encode(text, out_type=str)

    def encode(self, sentence: str) -> np.ndarray:
        """Token ids of ``sentence`` (no ``<bos>``/``<eos>``), unknown tokens as ``<unk>``."""
        return self.vocab.encode(self.tokenize(sentence))

    def decode(self, ids: Iterable[int]) -> str:
        """Readable text from ids: stops at ``<eos>``, skips the other specials, detokenises."""
        tokens = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i in (PAD_ID, BOS_ID):
                continue
            tokens.append(self.vocab.tokens[i])
        if self.tokenizer == "char":
            return "".join(tokens)
        if self.tokenizer == "sentencepiece":
            return "".join(tokens).replace("▁", " ").strip()
        return detokenize(tokens) if self.tokenizer == "simple" else " ".join(tokens)

    def tokens_of(self, ids: Iterable[int]) -> list[str]:
        """The tokens themselves (for attention plots), up to ``<eos>``."""
        out = []
        for i in ids:
            if int(i) == EOS_ID:
                break
            out.append(self.vocab.tokens[int(i)])
        return out

    def __len__(self) -> int:
        return len(self.vocab)

    # ------------------------------------------------------------- persistence
    def to_dict(self) -> dict:
        return {"tokens": self.vocab.tokens, "tokenizer": self.tokenizer, "lowercase": self.lowercase,
                "sp_model": base64.b64encode(self.sp_model).decode("ascii") if self.sp_model else None}

    @classmethod
    def from_dict(cls, d: dict) -> SentenceCodec:
        sp = base64.b64decode(d["sp_model"]) if d.get("sp_model") else None
        return cls(Vocab(d["tokens"], level="word", unk=UNK, specials=SPECIALS), d["tokenizer"], d["lowercase"], sp)


def _sentencepiece():
    try:
        import sentencepiece
    except ImportError:
        raise ConfigError("the sentencepiece tokenizer needs the sentencepiece package: "
                          "pip install 'rnnkit[translate]'") from None
    return sentencepiece


def _train_sentencepiece(sentences: list[str], vocab_size: int) -> bytes:
    spm = _sentencepiece()
    with tempfile.TemporaryDirectory(prefix="rnnkit-spm-") as tmp:
        corpus = Path(tmp) / "train.txt"
        corpus.write_text("\n".join(sentences) + "\n", encoding="utf-8")
        prefix = str(Path(tmp) / "spm")
        # the vocabulary cannot exceed what the text holds; let SentencePiece cap it
        try:
            spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=prefix, vocab_size=vocab_size,
                                           character_coverage=1.0, model_type="unigram",
                                           hard_vocab_limit=False, bos_id=-1, eos_id=-1, pad_id=-1,
                                           minloglevel=2)
        except RuntimeError as e:
            raise DataError(f"sentencepiece could not be trained: {str(e).splitlines()[0]}") from None
        return Path(prefix + ".model").read_bytes()


def _load_sentencepiece(model: bytes):
    spm = _sentencepiece()
    return spm.SentencePieceProcessor(model_proto=model)
