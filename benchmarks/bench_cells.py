"""Every recurrent cell side by side: speed against sequence length, and the streaming step.

Usage:
    python benchmarks/bench_cells.py                 # speed: writes results/cells.json
    python benchmarks/bench_cells.py --quick         # T up to 400, fewer rounds (smoke check)
    python benchmarks/bench_cells.py --part quality --tasks charlm --threads 1      # 10 min per cell
    python benchmarks/bench_cells.py --part quality --tasks ptb,adding,etth1,ucr --threads 1
    python benchmarks/bench_cells.py --table         # the README tables from the JSON files

1. Forward + backward of a one-layer ``Recurrent`` (B=16, I=H=256) over T = 100, 400, 1,600
   and 6,400 steps for every cell, in interleaved rounds (medians): the fused LSTM/GRU (torch's
   kernel), the step-loop cells (peephole, layer-normalised LSTM, sLSTM), and the parallel
   sequence forms (minGRU, minLSTM: log-space scan; mLSTM: chunkwise). A configuration that
   would take longer than ``--cap`` seconds per call is skipped (marked "-").
2. Batch-1 streaming: microseconds per step through each family's step engine (NumPy for
   LSTM/GRU, the layer's own step under no_grad for the others).

3. Quality per wall-clock second (``--part quality``, see ``cell_quality.py``): Tiny
   Shakespeare after a fixed budget per cell at equal parameter count, PTB (zaremba-small
   configuration) at a fixed budget, the adding problem to T=1,000, ETTh1 h=24 and UCR ECG200.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from cell_quality import QUALITY_TASKS, run_quality

from rnnkit.cells import CELL_TYPES
from rnnkit.inference.torch_engine import make_engine
from rnnkit.layers import Recurrent

HERE = Path(__file__).resolve().parent
CELLS = [c for c in CELL_TYPES if c not in ("rnn_tanh", "rnn_relu")]


def fwd_bwd_table(lengths: list[int], rounds: int, cap: float, batch: int = 16, hidden: int = 256) -> list[dict]:
    rows = []
    skipped: set[str] = set()
    for T in lengths:
        torch.manual_seed(0)
        x = torch.randn(batch, T, hidden)
        layers = {c: Recurrent(c, hidden, hidden, batch_first=True) for c in CELLS if c not in skipped}
        times: dict[str, list[float]] = {c: [] for c in layers}
        for r in range(rounds + 1):
            for c, layer in layers.items():
                if c in skipped:
                    continue
                t0 = time.perf_counter()
                out, _ = layer(x)
                out.square().mean().backward()
                dt = time.perf_counter() - t0
                if r:  # round 0 warms up
                    times[c].append(dt * 1000)
                if dt > cap:  # longer sequences would only take longer
                    skipped.add(c)
        row = {"T": T, **{c: round(statistics.median(v), 1) if v else None for c, v in times.items()}}
        row.update({c: None for c in CELLS if c not in row})
        rows.append(row)
        print(row, flush=True)
    return rows


def step_table(rounds: int, hidden: int = 256) -> dict[str, float]:
    out = {}
    for c in CELLS:
        torch.manual_seed(0)
        layer = Recurrent(c, hidden, hidden).eval()
        engine = make_engine(layer)
        state = engine.new_state(1)
        x = np.random.default_rng(0).standard_normal((1, hidden)).astype(np.float32)
        for _ in range(50):
            engine.step(state, x)
        samples = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(200):
                engine.step(state, x)
            samples.append((time.perf_counter() - t0) / 200 * 1e6)
        out[c] = round(statistics.median(samples), 1)
        print(c, out[c], "us/step", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("speed", "quality"), default="speed")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cap", type=float, default=20.0, help="seconds per call above which longer T are skipped")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "cells.json")
    ap.add_argument("--tasks", default=",".join(QUALITY_TASKS), help="quality tasks, comma-separated")
    ap.add_argument("--cells", default=",".join(CELLS), help="cells, comma-separated")
    ap.add_argument("--budget", type=float, default=600.0, help="charlm: seconds of training per cell")
    ap.add_argument("--ptb-budget", type=float, default=600.0, help="ptb: seconds of training per cell")
    ap.add_argument("--lengths", default="100,300,1000", help="adding: sequence lengths")
    ap.add_argument("--adding-steps", type=int, default=1000, help="adding: training batches per run")
    ap.add_argument("--threads", type=int, help="torch threads (1 per process when running two side by side)")
    ap.add_argument("--table", action="store_true", help="print the README tables from the JSON files and stop")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.table:
        print_tables(HERE / "results")
        return
    if args.part == "quality":
        cells = args.cells.split(",")
        for task in args.tasks.split(","):
            run_quality(task, cells, args.budget, args.ptb_budget, [int(v) for v in args.lengths.split(",")],
                        args.adding_steps, HERE / "results")
        return
    lengths = [100, 400] if args.quick else [100, 400, 1600, 6400]
    load = os.getloadavg()
    result = {"machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
              "threads": torch.get_num_threads(), "torch": torch.__version__, "load_average_before": load,
              "fwd_bwd_ms": fwd_bwd_table(lengths, 2 if args.quick else 3, args.cap),
              "step_us": step_table(3 if args.quick else 7)}
    result["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print("\n| T | " + " | ".join(CELLS) + " |")
    print("|---:|" + "---:|" * len(CELLS))
    for row in result["fwd_bwd_ms"]:
        print(f"| {row['T']} | " + " | ".join("-" if row[c] is None else str(row[c]) for c in CELLS) + " |")
    print("\nbatch-1 step us: " + ", ".join(f"{c} {v}" for c, v in result["step_us"].items()))
    print(f"threads {result['threads']}, load average {load[0]:.2f} -> {result['load_average_after'][0]:.2f}")


def print_tables(results: Path) -> None:
    """Markdown tables of every quality JSON present (cells as rows)."""
    def load(task: str) -> dict | None:
        path = results / f"cells_quality_{task}.json"
        return json.loads(path.read_text()) if path.exists() else None

    charlm, ptb, adding, etth1, ucr = (load(t) for t in QUALITY_TASKS)
    cells = list(dict.fromkeys(r["cell"] for d in (charlm, ptb, adding, etth1, ucr) if d for r in d["rows"]))
    lengths = sorted({r["length"] for r in adding["rows"]}) if adding else []
    head = ["cell"]
    if charlm:
        head += [f"Shakespeare valid nats/char ({charlm['budget_s'] / 60:.0f} min)", "hidden", "params", "chars/s"]
    if ptb:
        head += [f"PTB valid ppl ({ptb['budget_s'] / 60:.0f} min)"]
    head += [f"adding T={n}" for n in lengths]
    if etth1:
        head += ["ETTh1 h=24 test MSE"]
    if ucr:
        head += ["ECG200 accuracy"]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for cell in cells:
        row = [cell]
        if charlm:
            r = next((r for r in charlm["rows"] if r["cell"] == cell), None)
            row += ["-"] * 4 if r is None else ["diverged" if "diverged" in r else f"{r['valid_nats']:.3f}",
                                                str(r["hidden"]), f"{r['params']:,}", f"{r.get('tokens_per_s', 0):,}"]
        if ptb:
            r = next((r for r in ptb["rows"] if r["cell"] == cell), None)
            row += ["-" if r is None else "diverged" if "diverged" in r else f"{r['valid_ppl']:.1f}"]
        for n in lengths:
            r = next((r for r in adding["rows"] if r["cell"] == cell and r["length"] == n), None)
            row += ["-" if r is None else ("diverged" if r["diverged"] else
                                           (f"**{r['mse']:.4f}**" if r["solved"] else f"{r['mse']:.3f}"))]
        if etth1:
            r = next((r for r in etth1["rows"] if r["cell"] == cell), None)
            row += ["-" if r is None else f"{r['mean_mse']:.4f} (naive {r['naive_mse']:.4f})"]
        if ucr:
            r = next((r for r in ucr["rows"] if r["cell"] == cell), None)
            row += ["-" if r is None else f"{100 * r['mean_accuracy']:.1f} %"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
