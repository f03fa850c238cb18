"""One training run for ``test_distributed.py``: started plainly (one process) or under
torchrun (several); writes nothing itself (the run folder holds the checkpoints compared).

    python ddp_worker.py FAMILY RUN_DIR [--resume] [--max-steps N]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import rnnkit


def text_file(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    words = ["the cat", "a dog", "sat on", "the mat", "ran far", "away", "and then"]
    path = folder / "corpus.txt"
    if not path.exists():
        lines = [" ".join(rng.choice(words, 8)) for _ in range(60)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def series(n: int = 37) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, n)
    X = [np.sin(np.linspace(0, 3 + c, 12 + i % 5))[:, None] + 0.1 * rng.normal(size=(12 + i % 5, 1))
         for i, c in enumerate(y)]
    return X, y


def table() -> pd.DataFrame:
    t = np.arange(300)
    rng = np.random.default_rng(2)
    value = np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=t.size)
    return pd.DataFrame({"time": pd.date_range("2024-01-01", periods=t.size, freq="h"), "value": value})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("family")
    ap.add_argument("run_dir")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--max-steps", type=int, default=6)
    ap.add_argument("--die-at", type=int, default=0, help="rank 1 exits hard at this step (a crashed rank)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    run_dir = Path(args.run_dir)
    common = dict(device="cpu", run_dir=str(run_dir))
    if args.family == "lm":
        est = rnnkit.LanguageModeler(level="word", hidden_size=16, num_layers=1, batch_size=4, bptt=8, epochs=1,
                                     max_steps=args.max_steps, checkpoint_every=2, **common)
        data: tuple = (str(text_file(run_dir.parent)),)
    elif args.family == "classify":
        # 37 series, 4 for validation: 33 in batches of 8 leave a last batch of 1 (one rank gets none)
        # the recurrent classifier without dropout (each rank draws its own masks; the convolutional
        # branch's batch norm keeps per-rank statistics)
        est = rnnkit.RNNClassifier(hidden_size=8, epochs=2, batch_size=8, early_stopping=None, conv_branch=False,
                                   dropout=0.0, validation_fraction=0.1, **common)
        data = series()
    else:
        est = rnnkit.Forecaster(horizon=4, context=12, hidden_size=8, epochs=2, batch_size=16, target="value",
                                time_col="time", **common)
        data = (table(),)
    callbacks = []
    if args.die_at:
        def die(trainer, record):
            if trainer.ranks.rank == 1 and record["step"] == args.die_at:
                os._exit(3)
        callbacks.append(die)
    est.fit(*data, resume=args.resume, overwrite=not args.resume, **({"callbacks": callbacks} if callbacks else {}))


if __name__ == "__main__":
    main()
