"""Recognition: a long sequence of frames (audio features, image columns) -> a shorter label
sequence whose alignment is unknown, trained with connectionist temporal classification.

    from rnnkit.tasks.recognize import Recognizer
    rec = Recognizer(hidden_size=128, epochs=30).fit(features, transcripts)   # (T_i, F) arrays, strings
    rec.transcribe(test_features); rec.evaluate(test_features, test_transcripts)  # {"cer", "wer", ...}
    rec.save("model.safetensors"); Recognizer.load("model.safetensors")

The alphabet is every character of the training transcripts (id 0 is CTC's blank). Decoding
is best path (``beam=1``) or prefix beam search, optionally fused with a character n-gram
model fitted on the training transcripts (``lm_order``, ``lm_weight``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.data.audio import NORMALISATIONS
from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.finite import check_finite
from rnnkit.data.recognition_files import FrameSpec, kind_of, read_transcripts
from rnnkit.data.sequences import BucketedBatches, pad_batch
from rnnkit.errors import ConfigError, DataError
from rnnkit.evaluation.error_rate import edit_distance, error_rates
from rnnkit.generation.ctc_decode import CharNGram, GreedyStream, LabelLM, greedy_decode, prefix_beam_search
from rnnkit.layers import TorchState
from rnnkit.models.recognizer import (
    FRONT_ENDS,
    CTCRecognizer,
    CTCRecognizerConfig,
    check_front_end,
    front_end_steps,
)
from rnnkit.tasks.base import Estimator
from rnnkit.tasks.estimator import random_split

TASK = "recognize"
BLANK = 0


def min_ctc_steps(labels: Sequence[int]) -> int:
    """The fewest output steps CTC needs for ``labels``: one per label, plus a blank between
    each pair of equal neighbours (``"ll"`` in "hello" cannot be told from one ``l`` without it)."""
    return len(labels) + sum(a == b for a, b in zip(labels, labels[1:]))


class CTCBatches(BucketedBatches):
    """``(frames (B, T, F), lengths (B,), targets (sum of label lengths,), target lengths (B,))``
    of utterances of similar length; with ``augment`` each training utterance gets fresh
    SpecAugment masks (drawn from the epoch's seed, so a resumed run draws the same)."""

    def __init__(self, inputs: Sequence[np.ndarray], labels: Sequence[np.ndarray], batch_size: int, shuffle: bool,
                 seed: int, augment: bool = False) -> None:
        super().__init__([len(x) for x in inputs], batch_size, shuffle, seed)
        self.inputs, self.labels, self.augment = inputs, labels, augment
        self._epoch = 0

    def for_epoch(self, epoch: int):
        self._epoch = epoch
        return super().for_epoch(epoch)

    def batch(self, idx: np.ndarray) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        frames = [self.inputs[i] for i in idx]
        if self.augment:
            from rnnkit.data.audio import spec_augment

            rng = np.random.default_rng([self.seed, self._epoch, int(idx[0])])
            frames = [spec_augment(x, rng) for x in frames]
        x, lengths = pad_batch(frames, torch.float32)
        targets = torch.from_numpy(np.concatenate([self.labels[i] for i in idx])).long()
        target_lengths = torch.tensor([len(self.labels[i]) for i in idx], dtype=torch.long)
        return x, lengths, targets, target_lengths


class CTCTask:
    """CTC loss (mean over utterances of the loss per label) on padded batches."""

    carries_state = False
    item_unit = "utt"  # what the progress bar's rate counts: utterances (or lines)

    def __init__(self, model: CTCRecognizer, train: CTCBatches, valid: CTCBatches, meta: dict) -> None:
        self.model, self.train, self.valid, self._meta = model, train, valid, meta

    def train_batches(self, epoch: int):
        return self.train.for_epoch(epoch)

    def data_fingerprint(self) -> str:
        return fingerprint(self.train.inputs, self.train.labels, self.valid.inputs, self.valid.labels)

    @staticmethod
    def loss(model: CTCRecognizer, batch) -> tuple[Tensor, Tensor, Tensor]:
        x, lengths, targets, target_lengths = batch
        device = next(model.parameters()).device
        log_probs, out_lengths = model(x.to(device), lengths)
        # CTCLoss wants (T, B, C); "mean" divides each utterance's loss by its label count
        loss = F.ctc_loss(log_probs.transpose(0, 1), targets.to(device), out_lengths, target_lengths,
                          blank=BLANK, reduction="mean", zero_infinity=True)
        return loss, log_probs, out_lengths

    def train_step(self, model, batch, state):
        loss, _, _ = self.loss(model, batch)
        return loss, None, len(batch[1])

    @torch.no_grad()
    def evaluate(self, model, split: str) -> dict:
        model.eval()
        total, n, edits, chars = 0.0, 0, 0, 0
        for batch in self.valid.for_epoch(0):
            loss, log_probs, out_lengths = self.loss(model, batch)
            total += float(loss) * len(batch[1])
            n += len(batch[1])
            targets, target_lengths = batch[2].tolist(), batch[3].tolist()
            start = 0
            for b, (k, steps) in enumerate(zip(target_lengths, out_lengths.tolist())):
                ref = targets[start:start + k]
                start += k
                edits += edit_distance(ref, greedy_decode(log_probs[b, :steps].cpu().numpy(), BLANK))
                chars += k
        return {"loss": total / max(1, n), "cer": edits / max(1, chars)}

    def describe(self, loss: float) -> dict:
        return {}

    def meta(self) -> dict:
        return self._meta


class Recognizer(Estimator):
    """A CTC recogniser with scikit-learn conventions (see the module docstring).

    ``X``: a list of ``(frames, features)`` float arrays (log-mel frames, image columns);
    ``y``: their transcripts (non-empty strings). Without ``X_valid`` a random
    ``validation_fraction`` is held out to choose the epoch (lowest CTC loss). Learned:
    ``alphabet_`` (the characters; label ``i + 1`` is ``alphabet_[i]``), ``model_``
    (:class:`~rnnkit.models.CTCRecognizer`), ``lm_`` (the character n-gram, if
    ``lm_order``), ``history_``.

    ``lm_path``: a character language model (``rnnkit lm train --level char``) fused into the
    beam search instead of the n-gram (read from that path when decoding, not stored).

    Files: :meth:`fit_files` reads a table of WAV recordings or text-line images with their
    transcripts (:mod:`rnnkit.data.recognition_files`; audio as ``n_mels`` log-mel frames at
    ``sample_rate``, images as pixel columns ``line_height`` high), and the fitted recogniser
    keeps how (``frame_spec_``), so :meth:`transcribe_files` reads new files the same way.
    """

    TASK = TASK
    KIND = "recogniser"
    # what "auto" means, for --help (the rule itself: _front_end)
    AUTO_DEFAULTS = {"front_end": {"line images": "conv2d", "audio or frames": "stack"},
                     "subsample": {"conv2d": 4, "none": 1, "stack or conv": 2}}

    def __init__(self, cell: str = "lstm", hidden_size: int = 128, num_layers: int = 2, bidirectional: bool = True,
                 front_end: str = "auto", subsample: int | str = "auto", conv_channels: int = 64, dropout: float = 0.1,
                 zoneout: float = 0.0, spec_augment: bool = False, epochs: int = 40, batch_size: int = 16,
                 lr: float = 2e-3, optimizer: str = "adam", weight_decay: float = 0.0, schedule: str = "cosine",
                 clip: float | None = 5.0, early_stopping: int | None = 10, validation_fraction: float = 0.1,
                 beam: int = 1, lm_order: int = 0, lm_path: str | None = None, lm_weight: float = 0.5,
                 length_bonus: float = 0.0,
                 sample_rate: int = 8000, n_mels: int = 40, audio_norm: str = "level", line_height: int = 32,
                 max_time: float | None = None, checkpoint_every: int = 0, seed: int = 0, device: str = "auto",
                 precision: str = "fp32", verbose: bool = False, run_dir: str | None = None) -> None:
        self.cell, self.hidden_size, self.num_layers, self.bidirectional = cell, hidden_size, num_layers, bidirectional
        self.front_end, self.subsample, self.conv_channels = front_end, subsample, conv_channels
        self.dropout, self.zoneout, self.spec_augment = dropout, zoneout, spec_augment
        self.epochs, self.batch_size, self.lr, self.optimizer = epochs, batch_size, lr, optimizer
        self.weight_decay, self.schedule, self.clip, self.early_stopping = weight_decay, schedule, clip, early_stopping
        self.validation_fraction = validation_fraction
        self.beam, self.lm_order, self.lm_weight, self.length_bonus = beam, lm_order, lm_weight, length_bonus
        self.lm_path = lm_path
        self.sample_rate, self.n_mels, self.audio_norm, self.line_height = sample_rate, n_mels, audio_norm, line_height
        self.max_time, self.checkpoint_every, self.seed, self.device = max_time, checkpoint_every, seed, device
        self.precision, self.verbose, self.run_dir = precision, verbose, run_dir

    def _check_params(self) -> None:
        if self.subsample != "auto" and (isinstance(self.subsample, bool) or not isinstance(self.subsample, int)):
            raise ConfigError(f"subsample must be a whole number of frames or 'auto', got {self.subsample!r}")
        if self.front_end not in ("auto", *FRONT_ENDS):
            raise ConfigError(f"unknown front end {self.front_end!r}; choose one of auto, {', '.join(FRONT_ENDS)}")
        if self.front_end != "auto":
            check_front_end(*self._front_end("frames"))  # not auto: the kind does not matter
        elif self.subsample != "auto" and int(self.subsample) < 1:
            raise ConfigError(f"subsample must be >= 1, got {self.subsample}")
        if self.audio_norm not in NORMALISATIONS:
            raise ConfigError(f"unknown audio normalisation {self.audio_norm!r}; choose one of "
                              f"{', '.join(NORMALISATIONS)}")
        if self.beam < 1:
            raise ConfigError(f"beam must be at least 1 (1: best path), got {self.beam}")
        if self.lm_order < 0:
            raise ConfigError(f"lm_order must be >= 0 (0: no language model), got {self.lm_order}")
        if not 0 <= self.validation_fraction < 1:
            raise ConfigError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")

    # ------------------------------------------------------------- inputs
    @staticmethod
    def _frames(X: Any, names: Sequence[str] | None = None) -> list[np.ndarray]:
        """Each item as a non-empty finite ``(T, F)`` float32 array, all with the same F."""
        out = []
        for i, x in enumerate(X):
            what = names[i] if names is not None else f"utterance {i}"
            a = np.asarray(x, dtype=np.float32)
            a = a[:, None] if a.ndim == 1 else a
            if a.ndim != 2 or len(a) == 0:
                raise DataError(f"{what}: expected a non-empty (frames, features) array, got shape {a.shape}")
            check_finite(a, what, axes=("frame", "feature"), first=0)
            out.append(a)
        if not out:
            raise DataError("no utterances given")
        if len({a.shape[1] for a in out}) != 1:
            raise DataError("all utterances must have the same number of features per frame")
        return out

    def _labels(self, texts: Sequence[str], names: Sequence[str] | None = None) -> list[np.ndarray]:
        index = {c: i + 1 for i, c in enumerate(self.alphabet_)}
        out = []
        for i, text in enumerate(texts):
            what = names[i] if names is not None else f"utterance {i}"
            missing = sorted({c for c in text if c not in index})
            if missing:
                raise DataError(f"{what}: characters outside the model's alphabet: {''.join(missing)!r}")
            out.append(np.array([index[c] for c in text], dtype=np.int64))
        return out

    def _front_end(self, kind: str) -> tuple[str, int]:
        """The front end and subsampling for frames of ``kind`` (``"image"``, ``"audio"`` or
        ``"frames"``): ``front_end="auto"`` is the 2-D convolutional reader over 4 pixel
        columns per step for line images (CRNN's; it learnt to read an unseen font where the
        1-D ``conv`` had not left CTC's plateau in the same time, ``benchmarks/README.md``) and
        pairs of stacked frames otherwise (which streams); ``subsample="auto"`` is 4 for
        ``conv2d``, 1 without a front end, 2 otherwise (:attr:`AUTO_DEFAULTS`)."""
        front = self.front_end if self.front_end != "auto" else "conv2d" if kind == "image" else "stack"
        return front, int(self.subsample) if self.subsample != "auto" else {"conv2d": 4, "none": 1}.get(front, 2)

    def _check_lengths(self, frames: list[np.ndarray], labels: list[np.ndarray], names: Sequence[str] | None,
                       front: tuple[str, int]) -> None:
        steps = front_end_steps(np.array([len(x) for x in frames]), *front)
        for i, (n, lab) in enumerate(zip(steps, labels)):
            need = min_ctc_steps(lab.tolist())
            if n < need:
                what = names[i] if names is not None else f"utterance {i}"
                raise DataError(f"{what}: too short for its transcript: {n} steps after subsampling, and CTC needs "
                                f"at least {need} (one per character, plus one between repeated ones); use a "
                                "smaller --subsample or shorter frames")

    # ------------------------------------------------------------- fitting
    def _fit(self, X, y, X_valid=None, y_valid=None, names: Sequence[str] | None = None,
             resume: bool = False) -> None:
        """Train on frames ``X`` with transcripts ``y`` (``names``: how errors name each item)."""
        self.frame_spec_ = self.__dict__.pop("_pending_spec", None)  # set by fit_files for this fit only
        frames = self._frames(X, names)
        texts = [str(t) for t in y]
        if len(texts) != len(frames):
            raise DataError(f"X has {len(frames)} utterances but y has {len(texts)} transcripts")
        for i, t in enumerate(texts):
            if not t:
                raise DataError(f"{names[i] if names is not None else f'utterance {i}'}: empty transcript")
        self.alphabet_ = sorted({c for t in texts for c in t})
        labels = self._labels(texts, names)
        front = self._front_end(self.frame_spec_.kind if self.frame_spec_ is not None else "frames")
        self._check_lengths(frames, labels, names, front)
        self.n_features_in_ = frames[0].shape[1]
        if X_valid is not None:
            if y_valid is None:
                raise DataError("X_valid was given without y_valid, its transcripts")
            v_frames, v_labels = self._frames(X_valid), self._labels([str(t) for t in y_valid])
            if v_frames[0].shape[1] != self.n_features_in_:
                raise DataError(f"the validation frames have {v_frames[0].shape[1]} features, the training frames "
                                f"{self.n_features_in_}")
            self._check_lengths(v_frames, v_labels, None, front)
            tr_frames, tr_labels = frames, labels
        else:
            if self.validation_fraction <= 0 or len(frames) < 2:
                raise DataError("a recogniser needs held-out utterances to choose its epoch: pass X_valid, or a "
                                "validation_fraction above 0 with at least two utterances")
            tr, va = random_split(len(frames), self.validation_fraction, self.seed)
            tr_frames, tr_labels = [frames[i] for i in tr], [labels[i] for i in tr]
            v_frames, v_labels = [frames[i] for i in va], [labels[i] for i in va]
        self.lm_ = CharNGram(self.lm_order, len(self.alphabet_) + 1).fit(
            [lab.tolist() for lab in tr_labels]) if self.lm_order else None
        torch.manual_seed(self.seed)
        model = CTCRecognizer(self._model_config(*front))
        steps = np.concatenate(tr_frames)
        model.set_input_scaling(torch.from_numpy(steps.mean(0)), torch.from_numpy(steps.std(0)))
        train = CTCBatches(tr_frames, tr_labels, self.batch_size, True, self.seed, augment=self.spec_augment)
        valid = CTCBatches(v_frames, v_labels, max(self.batch_size, 32), False, self.seed)
        task = CTCTask(model, train, valid, self._checkpoint_meta())
        self._fit_with_trainer(model, task, self._trainer_config(), resume)

    def _model_config(self, front_end: str, subsample: int) -> CTCRecognizerConfig:
        return CTCRecognizerConfig(
            input_size=self.n_features_in_, num_labels=len(self.alphabet_) + 1, cell=self.cell,
            hidden_size=self.hidden_size, num_layers=self.num_layers, bidirectional=self.bidirectional,
            dropout=self.dropout, front_end=front_end, subsample=subsample,
            conv_channels=self.conv_channels, zoneout=self.zoneout)

    # ------------------------------------------------------------- files
    def _spec_for(self, files: Sequence[Path]) -> FrameSpec:
        kinds = {kind_of(f) for f in files}
        if len(kinds) != 1:
            raise DataError("a table must list audio files only or images only, not both")
        return FrameSpec(kinds.pop(), self.sample_rate, self.n_mels, self.line_height, self.audio_norm)

    def fit_files(self, table: str | Path, valid_table: str | Path | None = None, **fit_args: Any) -> Recognizer:
        """Train on the files and transcripts a table lists (``valid_table``: held-out ones)."""
        self.check_params()
        files, texts = read_transcripts(table)
        spec = self._spec_for(files)
        frames = [spec.frames(f) for f in files]
        valid: tuple[list, list] | tuple[None, None] = (None, None)
        if valid_table is not None:
            v_files, v_texts = read_transcripts(valid_table)
            v_kind = self._spec_for(v_files).kind
            if v_kind != spec.kind:
                raise DataError(f"{valid_table} lists other files ({v_kind}) than {table}")
            valid = ([spec.frames(f) for f in v_files], v_texts)
        self._pending_spec = spec
        return self.fit(frames, texts, *valid, names=[str(f) for f in files], **fit_args)

    def _file_frames(self, files: Sequence[str | Path]) -> list[np.ndarray]:
        self._check_fitted()
        if self.frame_spec_ is None:
            raise ConfigError("this recogniser was trained on frames, not files; pass frames to transcribe")
        for f in files:
            if kind_of(f) != self.frame_spec_.kind:
                raise DataError(f"{f}: this recogniser reads {self.frame_spec_.kind} files")
        return [self.frame_spec_.frames(f) for f in files]

    def transcribe_files(self, files: Sequence[str | Path]) -> list[str]:
        """The text of each file, read as the training files were."""
        return self.transcribe(self._file_frames(files))

    def evaluate_files(self, table: str | Path) -> dict[str, Any]:
        """Error rates on a table's files, with each file's reference and hypothesis."""
        files, texts = read_transcripts(table)
        hyps = self.transcribe_files(files)
        rows = [{"file": str(f), "reference": r, "hypothesis": h} for f, r, h in zip(files, texts, hyps)]
        return {**error_rates(texts, hyps), "utterances": rows}

    # ------------------------------------------------------------- use
    @torch.no_grad()
    def log_probs(self, X) -> list[np.ndarray]:
        """Per utterance, the ``(steps, labels + 1)`` log-probabilities (column 0: blank)."""
        self._check_fitted()
        frames = self._frames(X)
        if frames[0].shape[1] != self.n_features_in_:
            raise DataError(f"frames have {frames[0].shape[1]} features; the model reads {self.n_features_in_}")
        model = self.model_.eval()
        device = next(model.parameters()).device
        order = np.argsort([len(x) for x in frames])
        results: dict[int, np.ndarray] = {}
        for start in range(0, len(order), 32):
            idx = order[start:start + 32]
            x, lengths = pad_batch([frames[i] for i in idx], torch.float32)
            lp, steps = model(x.to(device), lengths)
            for b, i in enumerate(idx):
                results[int(i)] = lp[b, : int(steps[b])].cpu().numpy()
        return [results[i] for i in range(len(frames))]

    def decode(self, log_probs: np.ndarray) -> str:
        """Text from one utterance's log-probabilities, with this recogniser's decoding."""
        lm: LabelLM | None = self.lm_
        if self.lm_path is not None:
            lm = LanguageModelFusion(self._char_lm(), self.alphabet_)
        if self.beam == 1 and lm is None:
            ids = greedy_decode(log_probs, BLANK)
        else:
            ids = prefix_beam_search(log_probs, beam=self.beam, blank=BLANK, lm=lm,
                                     lm_weight=self.lm_weight if lm is not None else 0.0,
                                     length_bonus=self.length_bonus)
        return self.text(ids)

    def _char_lm(self):
        """The language model at ``lm_path``, loaded once."""
        loaded = getattr(self, "_loaded_lm", None)
        if loaded is None or loaded[0] != self.lm_path:
            from rnnkit.tasks.lm import LanguageModeler

            loaded = (self.lm_path, LanguageModeler.load(str(self.lm_path)))
            self._loaded_lm = loaded
        return loaded[1]

    def text(self, ids: Sequence[int]) -> str:
        return "".join(self.alphabet_[i - 1] for i in ids)

    def transcribe(self, X) -> list[str]:
        """The text of each utterance."""
        return [self.decode(lp) for lp in self.log_probs(X)]

    predict = transcribe

    def evaluate(self, X, y) -> dict[str, float]:
        """Character and word error rates (and counts) of :meth:`transcribe` against ``y``."""
        return error_rates([str(t) for t in y], self.transcribe(X))

    def score(self, X, y) -> float:
        """``1 - CER`` (greater is better)."""
        return 1.0 - self.evaluate(X, y)["cer"]

    def stream(self) -> RecognizerStream:
        """A :class:`RecognizerStream` over a unidirectional model: frames in, text out as it
        is recognised (best path), the same text as :meth:`transcribe` of the whole utterance."""
        self._check_fitted()
        return RecognizerStream(self)

    # ------------------------------------------------------------- persistence
    def _meta(self) -> dict:
        spec = getattr(self, "frame_spec_", None)
        return {"alphabet": self.alphabet_, "n_features_in": self.n_features_in_,
                "lm": self.lm_.to_dict() if self.lm_ is not None else None,
                "frame_spec": spec.to_dict() if spec is not None else None}

    def _restore(self, meta: dict) -> None:
        self.alphabet_ = list(meta["alphabet"])
        self.n_features_in_ = int(meta["n_features_in"])
        self.lm_ = CharNGram.from_dict(meta["lm"]) if meta.get("lm") else None
        # recognisers saved before the level normalisation read audio per channel: they still do
        self.frame_spec_ = FrameSpec(**{"normalise": "channel", **meta["frame_spec"]}) if meta.get("frame_spec") \
            else None


class LanguageModelFusion:
    """Shallow fusion with an rnnkit character language model: ``log_prob(prefix, c)`` is
    the model's log-probability of ``c`` after the prefix, its state after each prefix cached (a
    beam extends a prefix by one step of the model, so an utterance costs one step per prefix
    the search keeps). The model starts after a newline when it knows one (a line's start)."""

    def __init__(self, lm: Any, alphabet: Sequence[str]) -> None:
        vocab = lm.vocab_
        if vocab.level != "char":
            raise ConfigError("shallow fusion needs a character language model (rnnkit lm train --level char)")
        missing = sorted(c for c in alphabet if c not in vocab)
        if missing:
            raise ConfigError(f"the language model does not know the characters {''.join(missing)!r}")
        self.model = lm.model_.eval()
        self.ids = [vocab.stoi[c] for c in alphabet]  # label i + 1 -> the model's id of alphabet[i]
        start = vocab.stoi.get("\n")
        self.cache: dict[tuple[int, ...], tuple[Any, np.ndarray]] = {}
        self.cache[()] = self._advance(None, start) if start is not None else (None, np.full(
            len(vocab), -np.log(len(vocab))))

    @torch.no_grad()
    def _advance(self, state: Any, token: int) -> tuple[Any, np.ndarray]:
        logits, state = self.model.step(torch.tensor([token]), state)
        return state, torch.log_softmax(logits[0].float(), -1).numpy()

    def _after(self, prefix: tuple[int, ...]) -> tuple[Any, np.ndarray]:
        if prefix not in self.cache:
            state, _ = self._after(prefix[:-1])
            self.cache[prefix] = self._advance(state, self.ids[prefix[-1] - 1])
        return self.cache[prefix]

    def log_prob(self, context: Sequence[int], label: int) -> float:
        return float(self._after(tuple(context))[1][self.ids[label - 1]])


class RecognizerStream:
    """Streaming transcription: :meth:`push` frames (any number at a time) and get the text
    they complete; :meth:`finish` reads what is left (a partial stack of frames, zero-padded
    as the whole utterance's last one is). The recurrent state and the decoder's last symbol
    carry between pushes, so the cost per frame is constant.

    :meth:`state_dict` / :meth:`load_state_dict` hold all of that as NumPy arrays (the
    recurrent state ``s0``, ``s1``, ... (layers, 1, size), the frames waiting for a whole
    stack ``pending`` (1, n, features), the decoder's last symbol ``previous`` (1,), -1 for none),
    so a server can keep a session through restarts."""

    def __init__(self, recognizer: Recognizer) -> None:
        model = recognizer.model_
        assert isinstance(model, CTCRecognizer)
        if model.config.bidirectional:
            raise ConfigError("a bidirectional recogniser reads each utterance backwards too; it cannot stream "
                              "(train with bidirectional=False / --unidirectional)")
        if model.config.front_end in ("conv", "conv2d"):
            raise ConfigError("a recogniser with a convolutional front end does not stream; use --front-end "
                              "stack or none")
        self.recognizer = recognizer
        self.model: CTCRecognizer = model.eval()
        self.state: TorchState | None = None
        self.pending = np.zeros((0, recognizer.n_features_in_), dtype=np.float32)
        self.decoder = GreedyStream(BLANK)
        self.text = ""

    @torch.no_grad()
    def _run(self, frames: np.ndarray) -> str:
        x = torch.from_numpy(frames).unsqueeze(0).to(next(self.model.parameters()).device)
        z, _ = self.model.front(x, torch.tensor([len(frames)]))
        log_probs, self.state = self.model.step(z, self.state)
        piece = self.recognizer.text(self.decoder.push(log_probs[0].cpu().numpy()))
        self.text += piece
        return piece

    def push(self, frames: np.ndarray) -> str:
        """New ``(n, features)`` frames -> the characters they complete."""
        frames = np.concatenate([self.pending, np.asarray(frames, dtype=np.float32).reshape(-1, self.pending.shape[1])])
        s = self.model.config.subsample
        whole = len(frames) - len(frames) % s
        self.pending = frames[whole:]
        return self._run(frames[:whole]) if whole else ""

    def finish(self) -> str:
        """The rest of the utterance; the stream is then ready for the next one."""
        piece = self._run(self.pending) if len(self.pending) else ""
        self.state, self.decoder = None, GreedyStream(BLANK)
        self.pending = self.pending[:0]
        return piece

    # ------------------------------------------------------------- state
    def state_dict(self) -> dict[str, np.ndarray]:
        state = self.state if self.state is not None else self.model.encoder.initial_state(1)
        parts = state if isinstance(state, tuple) else (state,)
        out = {f"s{i}": part.detach().cpu().numpy().copy() for i, part in enumerate(parts)}
        previous = self.decoder.previous
        out["pending"] = self.pending[None].copy()  # (1, n, features): a batch of one, as the state
        out["previous"] = np.array([-1 if previous is None else previous], dtype=np.int64)
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        device = next(self.model.parameters()).device
        parts = [torch.as_tensor(np.array(state[f"s{i}"], dtype=np.float32), device=device)
                 for i in range(len(self.model.encoder.state_size))]
        self.state = tuple(parts) if len(parts) > 1 else parts[0]
        self.pending = np.array(state["pending"], dtype=np.float32).reshape(-1, self.recognizer.n_features_in_)
        previous = int(np.asarray(state["previous"]).reshape(-1)[0])
        self.decoder = GreedyStream(BLANK)
        self.decoder.previous = None if previous < 0 else previous

    @staticmethod
    def batch_axis(name: str) -> int:
        """The batch axis of a :meth:`state_dict` entry (one utterance per stream)."""
        return 0 if name in ("pending", "previous") else 1

    def copy(self) -> RecognizerStream:
        twin = RecognizerStream(self.recognizer)
        twin.load_state_dict(self.state_dict())
        twin.text = self.text
        return twin


__all__ = ["Recognizer", "RecognizerStream", "CTCTask", "CTCBatches", "min_ctc_steps"]
