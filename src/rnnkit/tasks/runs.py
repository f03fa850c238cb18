"""Runs and checkpoints as a user sees them: the library side of ``rnnkit info`` and
``rnnkit report``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnkit.training.run_folder import check_run_folder, run_lock

# Vocabularies and encoders can hold thousands of tokens: summaries show their sizes.
_CODECS = ("vocab", "encoder", "codec", "src_codec", "tgt_codec")


def checkpoint_summary(path: str | Path) -> tuple[int, dict[str, Any]]:
    """``(number of model parameters, {key: value})``: what a checkpoint holds, with
    vocabularies summarised and per-run states left out."""
    from rnnkit.training.checkpoint_header import read_header

    try:  # the header alone: no weights, no torch (a fast `rnnkit info`)
        full, sizes = read_header(path)
    except (ValueError, OSError, KeyError):  # not readable so: the full loader says why
        from rnnkit.training.checkpoint import load_checkpoint

        ck = load_checkpoint(path)
        full, sizes = ck.meta, {k: t.numel() for k, t in ck.tensors.items()}
    meta = {k: v for k, v in full.items() if k not in ("states", *_CODECS)}
    for key in _CODECS:
        if full.get(key):
            words = full[key].get("words", full[key])
            how = f", tokenizer {words['tokenizer']}" if words.get("tokenizer") else ""
            meta[key] = f"{len(words.get('tokens', []))} tokens{how}"
    for key, value in list(meta.items()):
        meta[key] = _summarised(value)
    n_params = sum(n for k, n in sizes.items() if k.startswith("model/"))
    return n_params, meta


def _summarised(value: Any, limit: int = 12) -> Any:
    """Long lists (a word model's unigram counts, class lists) as their length and first items."""
    if isinstance(value, list) and len(value) > limit:
        head = ", ".join(map(str, value[:5]))
        return f"{len(value):,} items: {head}, ..."
    if isinstance(value, dict):
        return {k: _summarised(v, limit) for k, v in value.items()}
    return value


def lm_samples(run_dir: str | Path, count: int = 3, length: int = 300) -> list[str]:
    """Samples from a language-model run's best checkpoint (temperature 0.8, seeds 0..count-1);
    none for other runs."""
    run_dir = Path(run_dir)
    ckpt = next((run_dir / n for n in ("best.safetensors", "last.safetensors") if (run_dir / n).exists()), None)
    if ckpt is None or count <= 0:
        return []
    from rnnkit.tasks import lm
    from rnnkit.training.checkpoint import checkpoint_task

    if checkpoint_task(ckpt) != lm.TASK:
        return []
    trained = lm.load(ckpt)
    return [trained.generate(length=length, temperature=0.8, seed=seed) for seed in range(count)]


def run_report(run_dir: str | Path, out: str | Path | None = None, samples: int = 3, length: int = 300) -> Path:
    """Write one offline HTML page for a training run; returns its path."""
    from rnnkit.diagnostics.run_report import write_run_report

    return write_run_report(Path(run_dir), out, lm_samples(run_dir, samples, length))


__all__ = ["checkpoint_summary", "check_run_folder", "run_lock", "lm_samples", "run_report"]
