"""What the commands read and write: the public face of rnnkit's readers, writers and report
helpers, so the CLI (and a user's script) reaches them through ``rnnkit.tasks``.

Names load on first use (matplotlib, pandas and mido stay unimported until needed).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    # readers
    "read_text": "rnnkit.data.text",
    "iter_lines": "rnnkit.data.text",
    "read_labelled_file": "rnnkit.data.labelled_files",
    "LabelledSequences": "rnnkit.data.labelled_files",
    "read_conll": "rnnkit.data.conll",
    "read_conditioned_text": "rnnkit.data.conditioned_text",
    "read_parallel": "rnnkit.data.parallel",
    "read_music": "rnnkit.data.music",
    "python_stdlib_text": "rnnkit.data.builtin",
    # writers
    "write_midi": "rnnkit.data.music",
    "atomic_write_bytes": "rnnkit.outputs",
    "atomic_write_text": "rnnkit.outputs",
    "plot_backtest": "rnnkit.evaluation.forecast_plot",
    "plot_confusion_matrix": "rnnkit.evaluation.confusion_plot",
    # metrics
    "perplexity": "rnnkit.evaluation",
    "classification_metrics": "rnnkit.evaluation.classification",
    "confusion_matrix": "rnnkit.evaluation.classification",
    "per_class_report": "rnnkit.evaluation.classification",
    # the simple baselines printed beside a model
    "most_frequent_tag_baseline": "rnnkit.evaluation.tag_baseline",
    "markov_key_baseline": "rnnkit.evaluation.music_baseline",
    # the cache of encoded corpora
    "cache_dir": "rnnkit.data.cache",
    "cache_entries": "rnnkit.data.cache",
    "cache_size": "rnnkit.data.cache",
    "cache_limit": "rnnkit.data.cache",
    "clear_cache": "rnnkit.data.cache",
    # public datasets by name (data:NAME)
    "resolve_data": "rnnkit.data.registry",
    "has_data_role": "rnnkit.data.registry",
    "dataset_registry": "rnnkit.data.registry",
    "fetch_dataset": "rnnkit.data.registry",
    "data_dir": "rnnkit.data.registry",
    # threads
    "set_threads": "rnnkit.training.threads",
    "threads_for_load": "rnnkit.training.threads",
    # processes (torchrun)
    "env_ranks": "rnnkit.training.distributed",
    "SecondaryRankDone": "rnnkit.training.distributed",
    "end_secondary_ranks_after_fit": "rnnkit.training.distributed",
    "leave_process_group": "rnnkit.training.distributed",
    # checkpoints
    "load_checkpoint": "rnnkit.training.checkpoint",
    "checkpoint_task": "rnnkit.training.checkpoint",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'rnnkit.tasks.io' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
