"""Language modelling end to end: text files -> trained model -> perplexity and samples.

Python API::

    from rnnkit.tasks import lm
    settings = lm.LMSettings.from_preset("char-rnn-small", train_files=["input.txt"])
    result = lm.train(settings, "runs/shakespeare")
    model = lm.load(result.best_checkpoint)
    print(model.generate("ROMEO:", length=200, temperature=0.8))
    print(model.evaluate("other.txt"))

The CLI (``rnnkit lm train|generate|evaluate``) is a thin layer over these functions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.nn import functional as F

from rnnkit.cells import make_cell
from rnnkit.data import Corpus, StreamBatches, Vocab, load_corpus
from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.text import encode_text, read_text
from rnnkit.data.word_split import check_word_split
from rnnkit.errors import ConfigError, DataError
from rnnkit.evaluation import bits_per_token, perplexity, unigram_loss_from_counts
from rnnkit.generation import generate
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.tasks.base import Estimator
from rnnkit.training import Trainer, TrainerConfig, TrainResult, distributed, load_checkpoint
from rnnkit.training.callbacks import CallbackLike
from rnnkit.training.optim import OptimConfig
from rnnkit.training.run_folder import claim_run_folder

TASK = "lm"

#: Named configurations. Each is a set of overrides of :class:`LMSettings` defaults.
PRESETS: dict[str, dict[str, Any]] = {
    # Zaremba, Sutskever & Vinyals (2014), "Recurrent Neural Network Regularization", on PTB.
    # Their loss is summed over the bptt steps of a window (and averaged over the batch);
    # ours is the mean per token, i.e. bptt times smaller. SGD with the same updates
    # therefore uses lr = bptt * 1.0 and clip = (their clip) / bptt: lr 20 / clip 0.25 for
    # the small model (the PyTorch word_language_model example's defaults), 35 / 5/35 for
    # medium and 35 / 10/35 for large.
    "zaremba-small": dict(level="word", cell="lstm", hidden_size=200, num_layers=2, dropout=0.0,
                          init_range=0.1, batch_size=20, bptt=20, eval_batch_size=1, optimizer="sgd",
                          lr=20.0, schedule="zaremba", decay=0.5, decay_start=4, clip=5.0 / 20, epochs=13),
    "zaremba-medium": dict(level="word", cell="lstm", hidden_size=650, num_layers=2, dropout=0.5,
                           init_range=0.05, batch_size=20, bptt=35, eval_batch_size=1, optimizer="sgd",
                           lr=35.0, schedule="zaremba", decay=0.8, decay_start=6, clip=5.0 / 35, epochs=39),
    "zaremba-large": dict(level="word", cell="lstm", hidden_size=1500, num_layers=2, dropout=0.65,
                          init_range=0.04, batch_size=20, bptt=35, eval_batch_size=1, optimizer="sgd",
                          lr=35.0, schedule="zaremba", decay=1 / 1.15, decay_start=14, clip=10.0 / 35, epochs=55),
    # Karpathy's char-rnn defaults (rnn_size 128 / 512, seq_length 50, batch 50, lr 2e-3
    # decayed by 0.97 per epoch after epoch 10, clip 5), with Adam in place of RMSprop.
    "char-rnn-small": dict(level="char", cell="lstm", hidden_size=128, num_layers=2, dropout=0.0,
                           batch_size=50, bptt=50, optimizer="adam", lr=2e-3, schedule="zaremba",
                           decay=0.97, decay_start=10, clip=5.0, epochs=50, early_stopping=5),
    "char-rnn": dict(level="char", cell="lstm", hidden_size=512, num_layers=2, dropout=0.5,
                     batch_size=50, bptt=50, optimizer="adam", lr=2e-3, schedule="zaremba",
                     decay=0.97, decay_start=10, clip=5.0, epochs=50, early_stopping=5),
    # AWD-LSTM (Merity, Keskar & Socher 2018) as ULMFiT pretrains it (Howard & Ruder 2018): 3 LSTM
    # layers of 1150 units, embeddings of 400 tied to the decoder, DropConnect 0.5 on the recurrent
    # weights, locked dropout, embedding dropout 0.1, windows of 70 words. Every layer is projected
    # to 400 (an LSTMP; AWD-LSTM narrows only its last layer) so that the tied decoder fits; Adam
    # with a cosine schedule (ULMFiT's choice) in place of NT-ASGD. For raw text: the simple
    # tokenizer (lowercased words and punctuation) and the 60,000 most frequent words.
    "awd-lstm": dict(level="word", tokenizer="simple", max_vocab=60_000, cell="lstm", embedding_size=400,
                     hidden_size=1150, proj_size=400, num_layers=3, dropout=0.4, locked_dropout=True,
                     embedding_dropout=0.1, weight_drop=0.5, tie_weights=True, batch_size=64, bptt=70,
                     optimizer="adam", lr=2e-3, weight_decay=1e-6, schedule="cosine", clip=0.25, epochs=15,
                     early_stopping=3),
    # The main job of `make demo`: a small character LSTM, about two minutes on a laptop CPU.
    "demo": dict(level="char", cell="lstm", hidden_size=256, num_layers=2, embedding_size=64, dropout=0.0,
                 batch_size=32, bptt=100, optimizer="adam", lr=3e-3, schedule="constant", clip=5.0,
                 epochs=3, max_time=120.0, sample_every=30.0, checkpoint_every=100),
}


def _check_preset_sizes(preset: str, values: dict[str, Any], given: set[str]) -> None:
    """Refuse a preset's sizes that a user's own ``--hidden`` or ``--proj-size`` contradicts,
    naming the options to give as well (the model's own check would name only its fields)."""
    hidden = values.get("hidden_size")
    proj = values.get("proj_size") or 0
    if proj and "proj_size" not in given and hidden is not None and proj >= hidden:
        raise ConfigError(f"the {preset} preset projects each layer's output to {proj} units, fewer than --hidden "
                          f"(hidden_size) must be, got {hidden}; give --proj-size (proj_size) below {hidden} as well")
    out = proj or hidden
    embedding = values.get("embedding_size") or hidden
    if values.get("tie_weights") and "embedding_size" not in given and embedding != out:
        source = "--proj-size" if proj else "--hidden"
        raise ConfigError(f"the {preset} preset ties the embedding to the output layer, so --embedding "
                          f"(embedding_size) must equal the layers' output size ({out}, from {source}), got "
                          f"{embedding}; give --embedding {out} as well")


@dataclass
class LMSettings:
    """Every option of a language-modelling run (data, model, training), flat and JSON-able."""

    train_files: list[str] = field(default_factory=list)
    valid_file: str | None = None
    test_file: str | None = None
    level: str = "char"
    tokenizer: str = "whitespace"  # words: "whitespace" (pre-tokenised text) or "simple" (raw text)
    text_col: str | None = None  # read this column of table files (or "text": the text of labelled lines)
    init_from: str | None = None  # a language-model checkpoint to start from (fine-tuning)
    split: tuple[float, float, float] = (0.9, 0.05, 0.05)
    min_freq: int = 1
    max_vocab: int | None = None
    batch_size: int = 32
    bptt: int = 64
    eval_batch_size: int = 10
    # validation while training scores at most this many tokens (None: all of them; with a
    # time budget and no value, the first 1,000,000, so validating cannot outlast the budget)
    eval_max_tokens: int | None = None
    # model
    cell: str = "lstm"
    hidden_size: int = 256
    num_layers: int = 2
    embedding_size: int | None = None
    dropout: float = 0.0
    locked_dropout: bool = False
    embedding_dropout: float = 0.0
    weight_drop: float = 0.0
    tie_weights: bool = False
    init_range: float | None = None
    forget_bias: float | None = None
    proj_size: int = 0
    zoneout: float = 0.0
    # training
    epochs: int = 10
    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    decay: float = 0.5
    decay_start: int = 4
    min_lr: float = 0.0
    patience: int = 0
    clip: float | None = 5.0
    early_stopping: int | None = None
    checkpoint_every: int = 200
    max_time: float | None = None
    min_steps: int = 0  # max_time does not stop the run before this many steps
    max_steps: int | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    bf16: bool = False  # older spelling of precision="bf16"
    progress: bool = True
    sample_every: float = 30.0
    sample_prompt: str | None = None
    monitor_gradients: int = 0  # steps between per-time-step gradient records (0: off)
    preset: str | None = None

    @classmethod
    def from_preset(cls, preset: str | None = None, **overrides: Any) -> LMSettings:
        """Defaults, then (with ``init_from``) the pretrained model's architecture and
        regularisation, then the preset's values, then ``overrides`` (``None`` values ignored)."""
        values: dict[str, Any] = {}
        if overrides.get("init_from"):
            values.update(pretrained_settings(overrides["init_from"]))
        if preset is not None:
            if preset not in PRESETS:
                raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
            values.update(PRESETS[preset])
            values["preset"] = preset
        known = {f.name for f in fields(cls)}
        for key, value in overrides.items():
            if key not in known:
                raise ConfigError(f"unknown language-model option {key!r}")
            if value is not None:
                values[key] = value
        if preset is not None:
            _check_preset_sizes(preset, values, {k for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        # absolute: the settings are saved in the run, and a resume may start in another folder
        self.train_files = [os.path.abspath(p) for p in self.train_files]
        self.valid_file = os.path.abspath(self.valid_file) if self.valid_file else self.valid_file
        self.test_file = os.path.abspath(self.test_file) if self.test_file else self.test_file
        self.init_from = os.path.abspath(self.init_from) if self.init_from else self.init_from
        self.split = tuple(self.split)  # type: ignore[assignment]
        check_word_split(self.tokenizer)
        if self.level not in ("char", "word"):
            raise ConfigError(f"level must be 'char' or 'word', got {self.level!r}")
        for name in ("batch_size", "bptt", "eval_batch_size", "hidden_size", "num_layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        # Fail on a bad option now, not after the corpus has been read.
        make_cell(self.cell, 1, 1)
        self.model_config(vocab_size=1)
        self.trainer_config()

    def to_dict(self) -> dict:
        return asdict(self)

    #: fields of the config dataclasses that the settings do not mirror: set from the data,
    #: nested, or left at the config's default. Every other field must be a settings field
    #: of the same name, so a renamed one fails at once instead of being dropped.
    NOT_MIRRORED: ClassVar[dict[str, frozenset[str]]] = {
        "LanguageModelConfig": frozenset({"vocab_size"}),
        "TrainerConfig": frozenset({"optim", "log_every", "evaluated_on", "threads"}),
        "OptimConfig": frozenset({"layer_lr_decay", "gradual_unfreezing"}),
    }

    def _shared(self, cls: type) -> dict[str, Any]:
        """This run's values for every field of ``cls`` (a config dataclass) it mirrors."""
        names = [f.name for f in fields(cls) if f.name not in self.NOT_MIRRORED[cls.__name__]]
        missing = [n for n in names if not hasattr(self, n)]
        if missing:
            raise TypeError(f"LMSettings does not mirror {cls.__name__}.{', '.join(missing)}: add the field "
                            "to LMSettings or to LMSettings.NOT_MIRRORED")
        return {n: getattr(self, n) for n in names}

    def corpus(self) -> Corpus:
        """The training text (and valid/test) as this run reads it: each file's ``text_col``
        when given, split into tokens by ``level`` and ``tokenizer``."""
        if not self.train_files:
            raise ConfigError("no training text given: pass one or more files, or use --preset demo")
        train, valid, test = self.train_files, self.valid_file, self.test_file
        if self.text_col is not None:
            from rnnkit.data.text_column import text_column_file

            column = self.text_col
            train = [str(text_column_file(f, column)) for f in train]
            valid = str(text_column_file(valid, column)) if valid else None
            test = str(text_column_file(test, column)) if test else None
        return load_corpus(train, valid, test, self.level, self.split, self.min_freq, self.max_vocab, self.tokenizer)

    def model_config(self, vocab_size: int) -> LanguageModelConfig:
        return LanguageModelConfig(**{**self._shared(LanguageModelConfig), "vocab_size": vocab_size})

    def trainer_config(self) -> TrainerConfig:
        return TrainerConfig(**{**self._shared(TrainerConfig), "optim": OptimConfig(**self._shared(OptimConfig))})


def default_prompt(vocab: Vocab) -> str:
    if vocab.level == "word":
        return "<eos>"
    return "\n" if "\n" in vocab else vocab.tokens[0]


def encode_prompt(vocab: Vocab, prompt: str) -> list[int]:
    """Prompt text -> ids; characters outside a char vocabulary are a clear ``DataError``."""
    if vocab.level == "char":
        missing = sorted({c for c in prompt if c not in vocab})
        if missing:
            raise DataError(f"prompt characters not in the model's vocabulary: {''.join(missing)!r} "
                            f"(the model knows {len(vocab)} characters)")
        return [vocab.stoi[c] for c in prompt]
    return vocab.encode(vocab.words(prompt)).tolist()


@torch.no_grad()
def stream_loss(model: LanguageModel, ids: np.ndarray, batch_size: int, bptt: int,
                device: torch.device) -> tuple[float, int]:
    """Mean cross-entropy over ``ids`` read as contiguous streams with the state carried
    across every window (so each token sees its full left context within its stream)."""
    batch_size = max(1, min(batch_size, len(ids) // 2))
    batches = StreamBatches(ids, batch_size, bptt)
    was_training = model.training
    model.eval()
    state, total, count = None, 0.0, 0
    with torch.inference_mode():
        for x, y in batches:
            logits, state = model(x.to(device), state)
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.to(device).reshape(-1),
                                           reduction="sum"))
            count += y.numel()
    model.train(was_training)
    return total / count, count


#: an evaluation stream longer than this many tokens is split into several read side by side
#: (each token still sees up to a million tokens of context; a 54 MB file takes minutes, not an hour)
STREAM_TOKENS = 1_000_000


def auto_streams(n_tokens: int) -> int:
    """How many parallel streams score ``n_tokens``: 1 up to :data:`STREAM_TOKENS`, then one
    per million tokens, at most 64."""
    return max(1, min(64, -(-n_tokens // STREAM_TOKENS)))


class LanguageModelTask:
    """Data + model + loss for the trainer; batches are contiguous streams, so state carries."""

    carries_state = True
    item_unit = "tok"  # what the progress bar's rate counts

    def __init__(self, corpus: Corpus, model: LanguageModel, settings: LMSettings) -> None:
        self.corpus = corpus
        self.model = model
        self.settings = settings
        self._train = StreamBatches(corpus.train, settings.batch_size, settings.bptt)
        self._samples_shown = 0
        # unigram counts for the baseline, stored in every checkpoint: counted once here
        self.unigram_counts = token_counts(corpus.train, len(corpus.vocab)).tolist()

    def data_fingerprint(self) -> str:
        return fingerprint(self.corpus.train, self.corpus.valid, self.corpus.test, self.corpus.vocab.tokens)

    def train_batches(self, epoch: int) -> StreamBatches:
        return self._train  # fixed order: the streams *are* the order

    def train_step(self, model, batch, state):
        x, y = (t.to(next(model.parameters()).device) for t in batch)
        logits, state = model(x, state)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))
        return loss, state, y.numel()

    def evaluate(self, model, split: str) -> dict:
        ids = getattr(self.corpus, split)
        cap = self.settings.eval_max_tokens or (1_000_000 if self.settings.max_time is not None else None)
        if cap is not None:
            ids = ids[: cap + 1]
        loss, count = stream_loss(model, ids, self.settings.eval_batch_size, self.settings.bptt,
                                  next(model.parameters()).device)
        return {"loss": loss, "tokens": count}

    def describe(self, loss: float) -> dict:
        return describe_loss(loss, self.corpus.vocab.level)

    def meta(self) -> dict:
        return {"task": TASK, "vocab": self.corpus.vocab.to_dict(), "settings": self.settings.to_dict(),
                "unigram_counts": self.unigram_counts}

    def sample(self, model, length: int = 200) -> str:
        # A private seed per sample: showing samples must not move the training RNG,
        # or a resumed run would diverge from an uninterrupted one.
        self._samples_shown += 1
        vocab = self.corpus.vocab
        prompt = self.settings.sample_prompt or default_prompt(vocab)
        out = generate(model, encode_prompt(vocab, prompt), length, temperature=0.8,
                       seed=self.settings.seed + self._samples_shown)
        text = prompt + vocab.decode(out.ids)
        return "─" * 20 + " sample " + "─" * 20 + "\n" + text.strip("\n") + "\n" + "─" * 48


def token_counts(ids: np.ndarray, vocab_size: int, chunk: int = 1 << 22) -> np.ndarray:
    """How often each id occurs, counted a slice at a time (a corpus of any size, memory-mapped,
    is never copied whole into an int64 array)."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    for start in range(0, len(ids), chunk):
        counts += np.bincount(np.asarray(ids[start:start + chunk]), minlength=vocab_size)
    return counts


def describe_loss(loss: float, level: str) -> dict:
    return {"bpc": bits_per_token(loss)} if level == "char" else {"ppl": perplexity(loss)}


def train(settings: LMSettings, run_dir: str | Path, resume: bool = False, overwrite: bool = False,
          allow_changed_data: bool = False,
          callbacks: Sequence[CallbackLike] | None = None) -> TrainResult:
    """Train a language model into ``run_dir`` (checkpoints, metrics.jsonl, curves.png).

    With ``resume=True`` the run continues from ``run_dir/last.safetensors`` with the
    settings saved there (only ``epochs``, ``max_time`` and ``max_steps`` may change).
    A fresh run into a folder that already holds one needs ``overwrite=True``.
    """
    run_dir = Path(run_dir)
    with claim_run_folder(run_dir, resume, overwrite):  # before the corpus is read: fail fast
        if resume:
            settings = _settings_for_resume(run_dir, settings)
        task = _task(settings)
        trainer = Trainer(task, settings.trainer_config(), run_dir, callbacks=_callbacks(task, callbacks))
        result = trainer.fit(resume=resume, overwrite=overwrite, allow_changed_data=allow_changed_data)
    distributed.finish_fit(trainer.ranks)
    return result


#: what a fine-tuned model must share with the one it starts from (the weights' shapes and the
#: meaning of a token); everything else (dropouts, training) may change
ARCHITECTURE = ("level", "tokenizer", "cell", "hidden_size", "num_layers", "embedding_size", "tie_weights",
                "proj_size")
#: what a fine-tuned model takes from the one it starts from unless told otherwise (the vocabulary's
#: size policy too: a new text's every word would otherwise enter the softmax)
INHERITED = (*ARCHITECTURE, "dropout", "locked_dropout", "embedding_dropout", "weight_drop", "forget_bias",
             "zoneout", "bptt", "min_freq", "max_vocab")


def pretrained_settings(checkpoint: str | os.PathLike) -> dict[str, Any]:
    """The :data:`INHERITED` settings of a language-model checkpoint."""
    meta = load_checkpoint(checkpoint).meta
    if meta.get("task") != TASK or not meta.get("settings"):
        raise ConfigError(f"{checkpoint} is not a checkpoint of rnnkit lm train (task {meta.get('task')!r}); "
                          "--init-from needs one")
    saved = meta["settings"]
    return {k: saved[k] for k in INHERITED if k in saved}


def _task(settings: LMSettings) -> LanguageModelTask:
    """Corpus, model (seeded, or from ``init_from`` with its vocabulary remapped) and task."""
    corpus = settings.corpus()
    torch.manual_seed(settings.seed)  # the same initial weights for the same seed
    model = LanguageModel(settings.model_config(len(corpus.vocab)))
    if settings.init_from:
        _start_from(model, corpus.vocab, settings)
    return LanguageModelTask(corpus, model, settings)


def _start_from(model: LanguageModel, vocab: Vocab, settings: LMSettings) -> None:
    """Load ``settings.init_from``'s weights into ``model`` (the vocabulary remapped)."""
    from rnnkit.models.language_model import remap_vocabulary

    pretrained = LanguageModeler.load(str(settings.init_from))
    saved = pretrained.settings_.to_dict() if pretrained.settings_ else {}
    differ = [f"{k} {getattr(settings, k)!r} (pretrained: {saved[k]!r})" for k in ARCHITECTURE
              if k in saved and getattr(settings, k) != saved[k]]
    if differ:
        raise ConfigError(f"--init-from {settings.init_from}: a fine-tuned model keeps the pretrained one's "
                          f"architecture; these differ: {'; '.join(differ)}")
    state, shared = remap_vocabulary(pretrained.model_.state_dict(), pretrained.vocab_.tokens, vocab.tokens)
    model.load_state_dict(state)
    if settings.progress:
        print(f"starting from {settings.init_from}: {shared:,} of {len(vocab):,} tokens known to it, the rest "
              "start at its mean embedding")


def _callbacks(task: LanguageModelTask, given: Sequence[CallbackLike] | None) -> list[CallbackLike]:
    callbacks = list(given or [])
    if task.settings.monitor_gradients:
        from rnnkit.diagnostics.gradient_monitor import GradientMonitor

        callbacks.append(GradientMonitor(task.model, every=task.settings.monitor_gradients))
    return callbacks


def _settings_for_resume(run_dir: Path, given: LMSettings) -> LMSettings:
    last = run_dir / "last.safetensors"
    if not last.exists():
        raise ConfigError(f"nothing to resume in {run_dir}: no last.safetensors")
    saved = load_checkpoint(last).meta.get("settings")
    if saved is None:
        raise ConfigError(f"{last} has no language-model settings")
    saved = LMSettings(**saved)
    saved.epochs, saved.max_time, saved.max_steps = given.epochs, given.max_time, given.max_steps
    saved.progress, saved.monitor_gradients = given.progress, given.monitor_gradients
    return saved


class LanguageModeler(Estimator):
    """A character- or word-level language model: fit on text files, generate, score.

    Every hyperparameter defaults to ``None``: the value of ``preset`` (see :data:`PRESETS`),
    else :class:`LMSettings`' default, so each default is written once. Learned:
    ``model_`` (:class:`~rnnkit.models.LanguageModel`), ``vocab_``, ``settings_`` (the
    resolved :class:`LMSettings`), ``unigram_counts_`` (the baseline), ``history_``,
    ``best_valid_loss_``. ``init_from`` (a checkpoint or saved estimator) fine-tunes a
    pretrained model on new text (its architecture, tokenizer and dropouts unless given; its
    vocabulary remapped to the new text's); ``text_col`` reads that column of table files
    (``"text"``: the text of ``label<TAB>text`` lines). ``LanguageModeler.load`` opens a saved
    estimator or any checkpoint of ``rnnkit lm train`` (``best.safetensors``).

    Example::

        lm = LanguageModeler(preset="char-rnn-small", max_time=60).fit("input.txt")
        print(lm.generate("ROMEO:", length=200, temperature=0.8))
        print(lm.evaluate("other.txt")["ppl"])
    """

    TASK = TASK
    KIND = "language-model"
    model_: LanguageModel
    vocab_: Vocab
    settings_: LMSettings | None

    def __init__(self, preset: str | None = None, level: str | None = None, tokenizer: str | None = None,
                 text_col: str | None = None, init_from: str | Path | None = None, cell: str | None = None,
                 hidden_size: int | None = None, num_layers: int | None = None, embedding_size: int | None = None,
                 dropout: float | None = None, locked_dropout: bool | None = None,
                 embedding_dropout: float | None = None, weight_drop: float | None = None,
                 tie_weights: bool | None = None, init_range: float | None = None, forget_bias: float | None = None,
                 proj_size: int | None = None, zoneout: float | None = None, min_freq: int | None = None,
                 max_vocab: int | None = None,
                 split: tuple[float, float, float] | None = None, batch_size: int | None = None,
                 bptt: int | None = None, eval_batch_size: int | None = None, epochs: int | None = None,
                 optimizer: str | None = None, lr: float | None = None, momentum: float | None = None,
                 weight_decay: float | None = None, schedule: str | None = None, decay: float | None = None,
                 decay_start: int | None = None, clip: float | None = None, early_stopping: int | None = None,
                 checkpoint_every: int | None = None, max_time: float | None = None, max_steps: int | None = None,
                 seed: int | None = None, device: str = "auto", precision: str | None = None,
                 bf16: bool | None = None, monitor_gradients: int | None = None, verbose: bool = False,
                 run_dir: str | Path | None = None
                 ) -> None:
        self.preset, self.level, self.cell, self.hidden_size, self.num_layers = preset, level, cell, hidden_size, \
            num_layers
        self.tokenizer, self.text_col, self.init_from = tokenizer, text_col, init_from
        self.embedding_size, self.dropout, self.locked_dropout = embedding_size, dropout, locked_dropout
        self.embedding_dropout, self.weight_drop, self.tie_weights = embedding_dropout, weight_drop, tie_weights
        self.init_range, self.forget_bias, self.min_freq, self.max_vocab = init_range, forget_bias, min_freq, \
            max_vocab
        self.proj_size, self.zoneout = proj_size, zoneout
        self.split, self.batch_size, self.bptt, self.eval_batch_size = split, batch_size, bptt, eval_batch_size
        self.epochs, self.optimizer, self.lr, self.momentum = epochs, optimizer, lr, momentum
        self.weight_decay, self.schedule, self.decay, self.decay_start = weight_decay, schedule, decay, decay_start
        self.clip, self.early_stopping, self.checkpoint_every = clip, early_stopping, checkpoint_every
        self.max_time, self.max_steps, self.seed, self.device, self.bf16 = max_time, max_steps, seed, device, bf16
        self.precision = precision
        self.monitor_gradients, self.verbose, self.run_dir = monitor_gradients, verbose, run_dir

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """``None`` parameters take :class:`LMSettings`' values (without a preset)."""
        settings = LMSettings()
        return {k: getattr(settings, k, v) if v is None else v for k, v in cls._defaults().items()}

    def _settings(self, train: Sequence[str], valid: str | None, test: str | None) -> LMSettings:
        given = {k: v for k, v in self.get_params().items() if k not in ("preset", "verbose", "run_dir")}
        if given.get("init_from") is not None:
            given["init_from"] = str(given["init_from"])
        return LMSettings.from_preset(self.preset, train_files=list(train), valid_file=valid, test_file=test,
                                      progress=self.verbose, sample_every=30.0 if self.verbose else 0.0, **given)

    def _fit(self, train: str | Path | Sequence[str | Path], valid: str | Path | None = None,
             test: str | Path | None = None, resume: bool = False,
             callbacks: Sequence[CallbackLike] | None = None) -> None:
        """Train on text file(s) ``train``; without ``valid``/``test`` files they are split 90/5/5."""
        files = [str(train)] if isinstance(train, (str, Path)) else [str(f) for f in train]
        settings = self._settings(files, None if valid is None else str(valid), None if test is None else str(test))
        if resume:
            settings = _settings_for_resume(Path(str(self.run_dir)), settings)
        task = _task(settings)
        self.vocab_, self.settings_ = task.corpus.vocab, settings
        self.unigram_counts_ = task.unigram_counts
        self._fit_with_trainer(task.model, task, settings.trainer_config(), resume, _callbacks(task, callbacks))

    def _meta(self) -> dict:
        return {"vocab": self.vocab_.to_dict(), "settings": self.settings_ and self.settings_.to_dict(),
                "unigram_counts": self.unigram_counts_}

    def _restore(self, meta: dict) -> None:
        self.vocab_ = Vocab.from_dict(meta["vocab"])
        if len(self.vocab_) != self.model_.config.vocab_size:
            raise ValueError(f"its vocabulary has {len(self.vocab_)} tokens, its model "
                             f"{self.model_.config.vocab_size}")
        self.settings_ = LMSettings(**meta["settings"]) if meta.get("settings") else None
        self.unigram_counts_ = meta.get("unigram_counts")

    # ------------------------------------------------------------- use
    def stream(self, batch: int = 1):
        """An open :class:`~rnnkit.inference.LanguageStream` of ``batch`` sequences: token id
        -> next-token logits (B, V), at constant cost per step (ids: ``vocab_.encode``)."""
        from rnnkit.inference import LanguageStream

        self._check_fitted()
        return LanguageStream(self.model_, batch)

    def generate(self, prompt: str | None = None, length: int = 500, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int | None = None) -> str:
        """The prompt followed by ``length`` generated tokens."""
        self._check_fitted()
        prompt = prompt if prompt else default_prompt(self.vocab_)
        out = generate(self.model_, encode_prompt(self.vocab_, prompt), length, temperature, top_k, top_p, seed)
        sep = " " if self.vocab_.level == "word" and not prompt.endswith("\n") else ""
        return prompt + sep + self.vocab_.decode(out.ids)

    def evaluate(self, path: str | Path, batch_size: int | None = None, bptt: int = 256) -> dict:
        """Cross-entropy (nats/token), perplexity and bits/token on a text file, beside the
        unigram baseline fitted on the training split. ``batch_size``: parallel streams (default:
        one per million tokens, so every token is scored with up to a million tokens of
        context; the state carries across the ``bptt`` windows, whose length only changes
        the speed). For word models also ``oov_rate``:
        the share of tokens never seen in training, scored as ``<unk>`` (which flatters the
        perplexity), and ``unk_in_text_rate``: the share that was ``<unk>`` in the text already."""
        self._check_fitted()
        text = read_text(path)
        ids = encode_text(text, self.vocab_)
        if len(ids) < 2:
            raise DataError(f"{path} has fewer than 2 tokens")
        device = next(self.model_.parameters()).device
        streams = auto_streams(len(ids)) if batch_size is None else batch_size
        loss, count = stream_loss(self.model_, ids, streams, bptt, device)
        result = {"loss": loss, "ppl": perplexity(loss), "bits_per_token": bits_per_token(loss), "tokens": count,
                  "streams": streams}
        if self.vocab_.level == "word" and self.vocab_.unk is not None:
            from rnnkit.data.text import word_tokens

            unk_id = self.vocab_.stoi[self.vocab_.unk]
            as_unk = int(np.count_nonzero(ids == unk_id))
            literal = sum(tok == self.vocab_.unk for tok in word_tokens(text, self.vocab_.tokenizer))
            result["oov_rate"] = (as_unk - literal) / len(ids)
            result["unk_in_text_rate"] = literal / len(ids)
        if self.unigram_counts_ is not None:
            counts = np.asarray(self.unigram_counts_, dtype=np.int64)
            result["unigram_loss"] = unigram_loss_from_counts(counts, ids[1:])
        return result

    def score(self, path: str | Path) -> float:
        """Negative cross-entropy per token on a text file (greater is better)."""
        return -self.evaluate(path)["loss"]

    def split_scores(self) -> dict[str, dict]:
        """Loss and derived metrics (bpc or perplexity) of the validation and test splits of the
        training data, each token scored with its full left context."""
        self._check_fitted()
        settings = self.settings_
        if settings is None:
            raise ConfigError("this checkpoint does not record its training data")
        corpus = settings.corpus()
        device = next(self.model_.parameters()).device
        out = {}
        for split in ("valid", "test"):
            ids = getattr(corpus, split)
            loss, n = stream_loss(self.model_, ids, settings.eval_batch_size, settings.bptt, device)
            out[split] = {"loss": loss, "tokens": n, **describe_loss(loss, settings.level)}
            if self.unigram_counts_ is not None and len(ids) > 1:
                counts = np.asarray(self.unigram_counts_, dtype=np.int64)
                out[split]["unigram_loss"] = unigram_loss_from_counts(counts, np.asarray(ids[1:]))
        return out


TrainedLM = LanguageModeler  # the name before the estimators were one family


def load(checkpoint: str | Path, device: str = "cpu") -> LanguageModeler:
    """Load a language-model checkpoint for generation or evaluation."""
    return LanguageModeler.load(checkpoint, device=device)


__all__ = ["LMSettings", "PRESETS", "LanguageModelTask", "LanguageModeler", "train", "load", "TrainedLM",
           "stream_loss", "StreamBatches", "describe_loss"]
