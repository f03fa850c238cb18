"""Quality per wall-clock second for every cell: the second part of ``bench_cells.py``.

Each task trains every cell under the same conditions (same data, seed, optimiser, thread
count) and records what it reached and how long it took. Run one task per process (``--tasks``)
to use both cores; each writes ``results/cells_quality_<task>.json``:

- ``charlm``: Tiny Shakespeare, character LM (2 layers, embedding 64, batch 32, bptt 100, Adam
  2e-3, clip 5), each cell's hidden size chosen so the model has the LSTM's (H=256) parameter
  count within 10 %; trained for ``--budget`` seconds; validation nats/char of the model at
  the end of its budget (the 5 % validation split, all of it).
- ``ptb``: Penn Treebank, the zaremba-small configuration (2 layers, 200 units, SGD lr 20,
  clip 0.25, the decay schedule) with each cell, hidden size matched to its parameter count;
  ``--ptb-budget`` seconds each; validation perplexity at the end.
- ``adding``: ``rnnkit inspect long-range``'s adding problem at ``--lengths`` (H=64, Adam 3e-3,
  clip 1, ``--adding-steps`` batches of 64); test MSE, solved below 0.01.
- ``etth1``: the forecaster's defaults with each cell on ETTh1 (target OT, horizon 24, the
  Informer 12/4/4-month split), test MSE (z-scored) against the naive forecast, seeds 0-2.
- ``ucr``: the series classifier's defaults with each cell on UCR ECG200, test accuracy,
  seeds 0-2.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
QUALITY_TASKS = ("charlm", "ptb", "adding", "etth1", "ucr")


def _lm_param_count(cell: str, hidden: int, vocab: int, embedding: int, layers: int) -> int:
    from rnnkit.models.language_model import LanguageModel, LanguageModelConfig

    model = LanguageModel(LanguageModelConfig(vocab_size=vocab, cell=cell, hidden_size=hidden, num_layers=layers,
                                              embedding_size=embedding))
    return sum(p.numel() for p in model.parameters())


def matched_hidden(cell: str, target: int, vocab: int, embedding: int, layers: int) -> tuple[int, int]:
    """The hidden size (a multiple of 4) whose LM has the parameter count nearest ``target``."""
    best: tuple[int, int] | None = None
    lo, hi = 4, 2048
    while hi - lo > 4:  # the count grows with the hidden size: bisect, then look around
        mid = (lo + hi) // 8 * 4
        if _lm_param_count(cell, mid, vocab, embedding, layers) < target:
            lo = mid
        else:
            hi = mid
    for h in range(max(4, lo - 8), hi + 12, 4):
        n = _lm_param_count(cell, h, vocab, embedding, layers)
        if best is None or abs(n - target) < abs(best[1] - target):
            best = (h, n)
    assert best is not None
    return best


def _lm_run(cell: str, settings_kwargs: dict, budget: float, lstm_hidden: int, embedding: int) -> dict:
    from rnnkit.data import load_corpus
    from rnnkit.tasks import lm

    probe = lm.LMSettings(**settings_kwargs)
    corpus = load_corpus(probe.train_files, probe.valid_file, probe.test_file, probe.level, probe.split)
    vocab = len(corpus.vocab)
    target = _lm_param_count("lstm", lstm_hidden, vocab, embedding, probe.num_layers)
    hidden, params = matched_hidden(cell, target, vocab, embedding, probe.num_layers)
    settings = lm.LMSettings(**{**settings_kwargs, "cell": cell, "hidden_size": hidden, "max_time": budget})
    from rnnkit.errors import TrainingDiverged

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        try:
            result = lm.train(settings, Path(tmp) / "run")
        except TrainingDiverged as e:  # a result too: this cell under this optimiser
            return {"cell": cell, "hidden": hidden, "params": params, "params_vs_lstm": round(params / target, 3),
                    "diverged": str(e).split(";")[0], "wall_s": round(time.perf_counter() - t0, 1)}
        wall = time.perf_counter() - t0
        model = lm.load(result.last_checkpoint)
    loss, tokens = lm.stream_loss(model.model_, corpus.valid, 1 if probe.level == "word" else 16, probe.bptt,
                                  torch.device("cpu"))
    return {"cell": cell, "hidden": hidden, "params": params, "params_vs_lstm": round(params / target, 3),
            "steps": result.global_step,
            "tokens_per_s": round(result.global_step * probe.batch_size * probe.bptt / wall),
            "wall_s": round(wall, 1), "stopped_because": result.stopped_because,
            "valid_nats": round(loss, 4), "valid_ppl": round(math.exp(loss), 2), "valid_tokens": tokens}


def charlm(cells: list[str], budget: float) -> list[dict]:
    text = SHARED / "tinyshakespeare" / "input.txt"
    kwargs = dict(train_files=[str(text)], level="char", num_layers=2, embedding_size=64, dropout=0.0,
                  batch_size=32, bptt=100, optimizer="adam", lr=2e-3, schedule="constant", clip=5.0, epochs=10_000,
                  checkpoint_every=10**9, sample_every=0.0, progress=False, device="cpu", seed=0)
    rows = []
    for cell in cells:
        rows.append(_lm_run(cell, kwargs, budget, lstm_hidden=256, embedding=64))
        print(rows[-1], flush=True)
    return rows


def ptb(cells: list[str], budget: float) -> list[dict]:
    from rnnkit.tasks import lm

    root = SHARED / "ptb"
    preset = dict(lm.PRESETS["zaremba-small"])
    kwargs = {**preset, "train_files": [str(root / "ptb.train.txt")], "valid_file": str(root / "ptb.valid.txt"),
              "test_file": str(root / "ptb.test.txt"), "embedding_size": 200, "epochs": 10_000,
              "checkpoint_every": 10**9, "sample_every": 0.0, "progress": False, "device": "cpu", "seed": 0,
              "eval_max_tokens": 20_000}
    rows = []
    for cell in cells:
        rows.append(_lm_run(cell, kwargs, budget, lstm_hidden=200, embedding=200))
        print(rows[-1], flush=True)
    return rows


def adding(cells: list[str], lengths: list[int], steps: int) -> list[dict]:
    from rnnkit.diagnostics.long_range import train_long_range

    rows = []
    for cell in cells:
        for length in lengths:
            r = train_long_range("adding", cell, length, steps, hidden_size=64, lr=3e-3, clip=1.0)
            rows.append({"cell": cell, "length": length, "steps": steps, "mse": round(r.score, 5),
                         "solved": r.solved, "diverged": r.diverged, "wall_s": round(r.seconds, 1)})
            print(rows[-1], flush=True)
    return rows


def etth1(cells: list[str], seeds: int = 3) -> list[dict]:
    import pandas as pd

    from rnnkit.tasks.forecast import Forecaster

    df = pd.read_csv(SHARED / "ett" / "ETTh1.csv")
    rows = []
    for cell in cells:
        mses, naive, walls = [], None, []
        for seed in range(seeds):
            t0 = time.perf_counter()
            est = Forecaster(horizon=24, target=["OT"], time_col="date", split=(8640, 2880, 2880), seed=seed,
                             device="cpu", cell=cell).fit(df)
            walls.append(time.perf_counter() - t0)
            bt = est.backtest(df, "test")
            mses.append(bt.scaled["model"]["mse"])
            naive = bt.scaled["naive"]["mse"]
        rows.append({"cell": cell, "test_mse": [round(m, 5) for m in mses], "mean_mse": round(statistics.mean(mses), 5),
                     "naive_mse": round(naive, 5), "wall_s": round(statistics.mean(walls), 1)})
        print(rows[-1], flush=True)
    return rows


def ucr(cells: list[str], name: str = "ECG200", seeds: int = 3) -> list[dict]:
    from rnnkit.tasks.classify import RNNClassifier
    from rnnkit.tasks.io import read_labelled_file

    root = SHARED / "ucr" / name
    train = read_labelled_file(root / f"{name}_TRAIN.tsv")
    test = read_labelled_file(root / f"{name}_TEST.tsv")
    rows = []
    for cell in cells:
        accs, walls = [], []
        for seed in range(seeds):
            t0 = time.perf_counter()
            est = RNNClassifier(cell=cell, seed=seed, device="cpu").fit(train.X, train.y)
            walls.append(time.perf_counter() - t0)
            accs.append(float((est.predict(test.X) == test.y).mean()))
        rows.append({"cell": cell, "dataset": name, "test_accuracy": [round(a, 4) for a in accs],
                     "mean_accuracy": round(statistics.mean(accs), 4), "wall_s": round(statistics.mean(walls), 1)})
        print(rows[-1], flush=True)
    return rows


def run_quality(task: str, cells: list[str], budget: float, ptb_budget: float, lengths: list[int],
                adding_steps: int, out_dir: Path) -> dict:
    load = os.getloadavg()
    t0 = time.perf_counter()
    if task == "charlm":
        rows = charlm(cells, budget)
    elif task == "ptb":
        rows = ptb(cells, ptb_budget)
    elif task == "adding":
        rows = adding(cells, lengths, adding_steps)
    elif task == "etth1":
        rows = etth1(cells)
    elif task == "ucr":
        rows = ucr(cells)
    else:
        raise SystemExit(f"unknown quality task {task!r}; choose from {', '.join(QUALITY_TASKS)}")
    result = {"task": task, "threads": torch.get_num_threads(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
              "load_average_before": load, "load_average_after": os.getloadavg(),
              "seconds": round(time.perf_counter() - t0, 1), "budget_s": budget if task == "charlm" else
              ptb_budget if task == "ptb" else None, "rows": rows}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"cells_quality_{task}.json").write_text(json.dumps(result, indent=1))
    return result
