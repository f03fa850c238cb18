"""Translation end to end: parallel text -> an attentional encoder-decoder -> translations,
BLEU and chrF, attention maps.

Python API (scikit-learn style, like the classifier)::

    from rnnkit.tasks.translate import Translator
    tr = Translator(epochs=10).fit(src_sentences, tgt_sentences)
    tr.translate(["a man is riding a bike ."], beam_size=5)
    tr.evaluate(test_src, test_refs)          # {"bleu": ..., "chrf": ..., "sentences": ...}
    tr.plot_attention("a dog runs .", "attention.png")
    tr.save("en-de.safetensors"); Translator.load("en-de.safetensors")

The CLI (``rnnkit translate train|evaluate`` and ``rnnkit translate CHECKPOINT "text"``)
is a thin layer over this class.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from rnnkit.data.parallel import PairBatch, PairBatches, keep_by_length
from rnnkit.data.sentences import UNK_ID, SentenceCodec
from rnnkit.data.sequences import pad_batch
from rnnkit.errors import ConfigError, DataError
from rnnkit.evaluation import perplexity
from rnnkit.generation.beam import Hypothesis, SpecialIds, beam_search, greedy_search
from rnnkit.models import Seq2Seq, Seq2SeqConfig
from rnnkit.tasks.base import Estimator
from rnnkit.tasks.estimator import random_split
from rnnkit.tasks.token_task import TokenLossTask, token_cross_entropy


def pair_loss(model: Seq2Seq, batch: PairBatch, device, teacher_forcing: float = 1.0,
              label_smoothing: float = 0.0) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy per target token (``<eos>`` included, padding excluded)."""
    logits = model(batch.src.to(device), batch.src_lengths, batch.tgt_in.to(device), teacher_forcing)
    return token_cross_entropy(logits, batch.tgt_out.to(device), label_smoothing), int(batch.tgt_lengths.sum())


class Translator(Estimator):
    """An attentional recurrent encoder-decoder (:class:`~rnnkit.models.Seq2Seq`).

    Data: ``tokenizer`` (``"simple"``: words and punctuation, lowercased unless
    ``lowercase=False``; ``"whitespace"``; ``"char"``; ``"sentencepiece"`` with
    ``sp_vocab_size`` subwords per language), ``min_freq`` / ``max_vocab`` per language,
    ``max_length`` (training pairs with a longer side are left out).
    Model: ``cell``, ``hidden_size``, ``num_layers``, ``embedding_size``, ``attention``
    (``general``, ``dot``, ``additive`` or ``none``), ``input_feeding``, ``dropout``,
    ``tie_embeddings``. Training: ``teacher_forcing`` ratio, ``label_smoothing`` and the
    usual optimiser options; the epoch with the best validation loss is kept.
    Decoding defaults: ``beam_size`` (1 = greedy), ``length_penalty``, ``max_length_ratio``.
    """

    TASK = "translate"
    KIND = "translation"

    def __init__(self, tokenizer: str = "simple", lowercase: bool = True, min_freq: int = 2,
                 max_vocab: int | None = None, sp_vocab_size: int = 8000, max_length: int = 50,
                 cell: str = "lstm", hidden_size: int = 256, num_layers: int = 1, embedding_size: int = 256,
                 attention: str = "general", input_feeding: bool = True, dropout: float = 0.3, zoneout: float = 0.0,
                 tie_embeddings: bool = False, teacher_forcing: float = 1.0, label_smoothing: float = 0.0,
                 batch_size: int = 64, epochs: int = 15, optimizer: str = "adam", lr: float = 1e-3,
                 weight_decay: float = 0.0, schedule: str = "constant", clip: float | None = 5.0,
                 early_stopping: int | None = 3, validation_fraction: float = 0.05, max_time: float | None = None,
                 checkpoint_every: int = 0,
                 beam_size: int = 5, length_penalty: float = 0.6, max_length_ratio: float = 1.5, seed: int = 0,
                 device: str = "auto",
                 precision: str = "fp32", verbose: bool = False, run_dir: str | None = None) -> None:
        self.tokenizer, self.lowercase, self.min_freq, self.max_vocab = tokenizer, lowercase, min_freq, max_vocab
        self.sp_vocab_size, self.max_length, self.cell, self.hidden_size = sp_vocab_size, max_length, cell, hidden_size
        self.num_layers, self.embedding_size, self.attention = num_layers, embedding_size, attention
        self.input_feeding, self.dropout, self.tie_embeddings = input_feeding, dropout, tie_embeddings
        self.zoneout = zoneout
        self.teacher_forcing, self.label_smoothing = teacher_forcing, label_smoothing
        self.batch_size, self.epochs, self.optimizer, self.lr = batch_size, epochs, optimizer, lr
        self.weight_decay, self.schedule, self.clip, self.early_stopping = weight_decay, schedule, clip, early_stopping
        self.validation_fraction, self.max_time = validation_fraction, max_time
        self.checkpoint_every = checkpoint_every
        self.beam_size, self.length_penalty, self.max_length_ratio = beam_size, length_penalty, max_length_ratio
        self.seed, self.device, self.verbose, self.run_dir = seed, device, verbose, run_dir
        self.precision = precision

    # ------------------------------------------------------------- training
    def _codec(self, sentences: list[str]) -> SentenceCodec:
        return SentenceCodec.fit(sentences, self.tokenizer, self.lowercase, self.min_freq, self.max_vocab,
                                 self.sp_vocab_size)

    def _encode(self, codec: SentenceCodec, sentences: Sequence[str], side: str) -> list[np.ndarray]:
        out = []
        for i, s in enumerate(sentences):
            ids = codec.encode(s)
            if len(ids) == 0:
                raise DataError(f"{side} sentence {i + 1} has no tokens: {s!r}")
            out.append(ids)
        return out

    def _model_config(self) -> Seq2SeqConfig:
        return Seq2SeqConfig(src_vocab_size=len(self.src_codec_), tgt_vocab_size=len(self.tgt_codec_),
                             cell=self.cell, hidden_size=self.hidden_size, num_layers=self.num_layers,
                             embedding_size=self.embedding_size, attention=self.attention,
                             input_feeding=self.input_feeding, dropout=self.dropout, zoneout=self.zoneout,
                             tie_embeddings=self.tie_embeddings)

    def split_validation(self, src: Sequence[str], tgt: Sequence[str]) -> tuple[list, list, list, list]:
        """``(train_src, train_tgt, valid_src, valid_tgt)``: what :meth:`fit` holds out when it is
        given no validation pairs (``validation_fraction`` of them, drawn with ``seed``); with a
        fraction of 0, the training pairs themselves are the validation pairs."""
        src, tgt = list(src), list(tgt)
        if self.validation_fraction <= 0:
            return src, tgt, src, tgt
        tr, va = random_split(len(src), self.validation_fraction, self.seed)
        return [src[i] for i in tr], [tgt[i] for i in tr], [src[i] for i in va], [tgt[i] for i in va]

    def _fit(self, src: Sequence[str], tgt: Sequence[str], src_valid: Sequence[str] | None = None,
             tgt_valid: Sequence[str] | None = None, resume: bool = False) -> None:
        """Learn to translate ``src`` sentences into ``tgt`` (lists of aligned strings)."""
        src, tgt = list(src), list(tgt)
        if len(src) != len(tgt):
            raise DataError(f"{len(src)} source sentences but {len(tgt)} targets")
        if not src:
            raise DataError("no sentence pairs to train on")
        if not 0.0 <= self.teacher_forcing <= 1.0:
            raise ConfigError(f"teacher_forcing must be in [0, 1], got {self.teacher_forcing}")
        no_held_out = (src_valid is None or tgt_valid is None) and self.validation_fraction <= 0
        self._evaluated_on = "train" if no_held_out else "valid"
        if src_valid is None or tgt_valid is None:
            src, tgt, src_valid, tgt_valid = self.split_validation(src, tgt)
        self.src_codec_, self.tgt_codec_ = self._codec(src), self._codec(tgt)
        s_ids, t_ids = self._encode(self.src_codec_, src, "source"), self._encode(self.tgt_codec_, tgt, "target")
        keep = keep_by_length(s_ids, t_ids, self.max_length)
        if len(keep) == 0:
            raise DataError(f"no training pair has both sides within max_length={self.max_length} tokens")
        self.n_train_pairs_, self.n_filtered_ = len(keep), len(s_ids) - len(keep)
        train = PairBatches([s_ids[i] for i in keep], [t_ids[i] for i in keep], self.batch_size, seed=self.seed)
        valid = PairBatches(self._encode(self.src_codec_, src_valid, "source"),
                            self._encode(self.tgt_codec_, tgt_valid, "target"), max(64, self.batch_size),
                            shuffle=False)
        torch.manual_seed(self.seed)
        model = Seq2Seq(self._model_config())
        preview = src_valid[0]
        tf, smoothing = self.teacher_forcing, self.label_smoothing
        task = TokenLossTask(model, train, valid, self._checkpoint_meta(),
                             lambda m, batch, device: pair_loss(m, batch, device, tf, smoothing),
                             sampler=lambda m: f"{preview}\n  -> {self._translate(m, [preview], 1)[0]}")
        cfg = self._trainer_config(sample_every=60.0 if self.verbose else 0.0)
        self._fit_with_trainer(model, task, cfg, resume)

    def _meta(self) -> dict:
        return {"src_codec": self.src_codec_.to_dict(), "tgt_codec": self.tgt_codec_.to_dict()}

    # ------------------------------------------------------------- decoding
    def _target_specials(self) -> SpecialIds:
        """The decoding searches' special ids, from the target vocabulary's policy."""
        v = self.tgt_codec_.vocab
        assert v.bos_id is not None and v.eos_id is not None and v.pad_id is not None  # SEQ2SEQ policy
        return SpecialIds(bos=v.bos_id, eos=v.eos_id, pad=v.pad_id)

    def _hypotheses(self, model, sentences: Sequence[str], beam_size: int, return_attention: bool = False,
                    batch_size: int = 64) -> list[Hypothesis]:
        was = model.training
        model.eval()
        device = next(model.parameters()).device
        ids = [self.src_codec_.encode(s)[: 4 * self.max_length] for s in sentences]
        ids = [x if len(x) else np.array([UNK_ID]) for x in ids]  # an empty line still gets an answer
        order = np.argsort([len(x) for x in ids], kind="stable")  # similar lengths together: less padding
        out: list[Hypothesis | None] = [None] * len(ids)
        specials = self._target_specials()
        for start in range(0, len(ids), batch_size):
            idx = order[start:start + batch_size]
            src, lengths = pad_batch([ids[i] for i in idx], torch.long)
            if beam_size == 1:
                hyps = greedy_search(model, src.to(device), lengths, specials, self.max_length_ratio,
                                     return_attention=return_attention)
            else:
                hyps = beam_search(model, src.to(device), lengths, specials, beam_size, self.length_penalty,
                                   self.max_length_ratio, return_attention=return_attention)
            for i, h in zip(idx, hyps):
                out[i] = h
        model.train(was)
        return out  # type: ignore[return-value]

    def _translate(self, model, sentences: Sequence[str], beam_size: int) -> list[str]:
        return [self.tgt_codec_.decode(h.ids) for h in self._hypotheses(model, sentences, beam_size)]

    def stream(self, sentences: str | Sequence[str]):
        """The decoder opened on encoded source ``sentences``: a
        :class:`~rnnkit.inference.DecoderStream` of target id -> logits (B, V_tgt); feed
        ``<bos>`` first (``tgt_codec_``)."""
        from rnnkit.inference import DecoderStream

        self._check_fitted()
        sentences = [sentences] if isinstance(sentences, str) else list(sentences)
        ids = self._encode(self.src_codec_, sentences, "source")
        src, lengths = pad_batch(ids, torch.long)
        assert isinstance(self.model_, Seq2Seq)
        return DecoderStream(self.model_, src, lengths)

    def translate(self, sentences: str | Sequence[str], beam_size: int | None = None) -> list[str]:
        """Translations of ``sentences`` (one string or a list), detokenised."""
        self._check_fitted()
        sentences = [sentences] if isinstance(sentences, str) else list(sentences)
        return self._translate(self.model_, sentences, beam_size or self.beam_size)

    def hypotheses(self, sentences: Sequence[str], beam_size: int | None = None,
                   return_attention: bool = False) -> list[Hypothesis]:
        """Output ids with their log-probabilities (and attention weights), for analysis."""
        self._check_fitted()
        return self._hypotheses(self.model_, list(sentences), beam_size or self.beam_size, return_attention)

    @torch.no_grad()
    def score(self, src: Sequence[str], tgt: Sequence[str]) -> dict:
        """Cross-entropy per target token (``<eos>`` included) and perplexity of reference pairs."""
        self._check_fitted()
        batches = PairBatches(self._encode(self.src_codec_, src, "source"),
                              self._encode(self.tgt_codec_, tgt, "target"), 64, shuffle=False)
        result = TokenLossTask(self.model_, batches, batches, {}, pair_loss).evaluate(self.model_)
        return {**result, "ppl": perplexity(result["loss"])}

    def evaluate(self, src: Sequence[str], references: Sequence[str], beam_size: int | None = None) -> dict:
        """Corpus BLEU and chrF (sacrebleu, on detokenised text) of the translations of ``src``.

        A model trained on lowercased text is scored case-insensitively (``lowercase`` BLEU),
        as lowercased Multi30k results are reported.
        """
        from rnnkit.evaluation.translation import corpus_scores

        if len(src) != len(references):
            raise DataError(f"{len(src)} source sentences but {len(references)} references")
        hyps = self.translate(list(src), beam_size)
        return {**corpus_scores(hyps, list(references), lowercase=self.lowercase),
                "beam_size": beam_size or self.beam_size, "translations": hyps}

    def baseline(self, train_src: Sequence[str], train_tgt: Sequence[str], src: Sequence[str],
                 references: Sequence[str]) -> dict:
        """Corpus BLEU and chrF, scored as :meth:`evaluate` scores the model, of the word-for-word
        baseline (:mod:`rnnkit.evaluation.translation_baseline`: an IBM Model 1 dictionary learnt
        from the training pairs, in this model's vocabularies)."""
        self._check_fitted()
        return word_for_word_baseline(self.src_codec_, self.tgt_codec_, self.lowercase, train_src, train_tgt, src,
                                      references)

    def plot_attention(self, sentence: str, path: str | Path, beam_size: int | None = None) -> Path:
        """A heat map of which source tokens each output token attended to (PNG)."""
        from rnnkit.evaluation.attention_plot import plot_attention

        if self.attention == "none":
            raise ConfigError("this model has no attention to plot (attention='none')")
        hyp = self.hypotheses([sentence], beam_size, return_attention=True)[0]
        src_tokens = self.src_codec_.tokens_of(self.src_codec_.encode(sentence)) or ["<unk>"]
        out_tokens = self.tgt_codec_.tokens_of(hyp.ids) + ["<eos>"]
        assert hyp.attention is not None  # asked for above
        weights = hyp.attention[: len(out_tokens), : len(src_tokens)].numpy()
        return plot_attention(weights, src_tokens, out_tokens[: len(weights)], path)

    def _restore(self, meta: dict) -> None:
        self.src_codec_ = SentenceCodec.from_dict(meta["src_codec"])
        self.tgt_codec_ = SentenceCodec.from_dict(meta["tgt_codec"])


def word_for_word_baseline(src_codec: SentenceCodec, tgt_codec: SentenceCodec, lowercase: bool,
                           train_src: Sequence[str], train_tgt: Sequence[str], src: Sequence[str],
                           references: Sequence[str]) -> dict:
    """:meth:`Translator.baseline` for any pair of vocabularies: ``{"bleu", "chrf", ..., "name",
    "translations"}``."""
    from rnnkit.evaluation.translation import corpus_scores
    from rnnkit.evaluation.translation_baseline import NAME, ibm1_dictionary, word_for_word

    if len(src) != len(references):
        raise DataError(f"{len(src)} source sentences but {len(references)} references")
    dictionary = ibm1_dictionary([src_codec.encode(s) for s in train_src], [tgt_codec.encode(t) for t in train_tgt],
                                 len(src_codec))
    hyps = [tgt_codec.decode(word_for_word(dictionary, src_codec.encode(s), UNK_ID, UNK_ID)) for s in src]
    return {**corpus_scores(hyps, list(references), lowercase=lowercase), "name": NAME, "translations": hyps}


__all__ = ["Translator", "pair_loss", "word_for_word_baseline"]
