"""The command groups of ``rnnkit``, loaded only when used (their modules import torch and
the estimators): their modules and one-line helps, and :func:`group_app` to load one."""

from __future__ import annotations

import importlib

import typer

from rnnkit.cli.common import apply_option_ranges
from rnnkit.cli.process_options import add_process_options

#: command groups loaded only when used (their modules import torch and the estimators), with
#: the one-line help the top-level --help shows (a test checks it against each group's own)
LAZY_GROUPS: dict[str, tuple[str, str]] = {
    "lm": ("rnnkit.cli.lm", "Character- and word-level language models: train, generate, evaluate."),
    "classify": ("rnnkit.cli.classify", "Sequence classification (many-to-one): UCR/UEA series, CSV sequences, "
                                        "labelled text."),
    "tag": ("rnnkit.cli.tag", "Sequence tagging (synced many-to-many) from CoNLL / CoNLL-U files."),
    "forecast": ("rnnkit.cli.forecast", "Time-series forecasting from CSV or Parquet: train, predict the next "
                                        "horizon, backtest."),
    "music": ("rnnkit.cli.music", "Polyphonic music (88-key piano rolls): JSB Chorales .json, Coconet .npz, "
                                  "MIDI files."),
    "translate": ("rnnkit.cli.translate", "Translation with an attentional encoder-decoder: train, translate, "
                                          "evaluate."),
    "generate": ("rnnkit.cli.generate", "Conditioned generation: a label (or feature vector) in, a sentence out."),
    "recognize": ("rnnkit.cli.recognize", "Speech and text-line recognition with CTC: WAV recordings or line "
                                          "images with transcripts."),
    "inspect": ("rnnkit.cli.inspect", "Look inside recurrent networks: how gradients flow back through time."),
    "cache": ("rnnkit.cli.cache", "The cache of encoded corpora (token ids): info and clear."),
    "data": ("rnnkit.cli.data", "Public datasets by name: list, get (SHA-256 checked, cached), path."),
}


def group_app(name: str) -> typer.Typer:
    """The typer app of a lazily loaded command group (imported now, option ranges applied)."""
    module = importlib.import_module(LAZY_GROUPS[name][0])
    apply_option_ranges(module.app)
    add_process_options(module.app)
    module.app._add_completion = False  # as the top level: no --install-completion on a group
    return module.app
