"""Recurrent (fused and reference backends) vs torch.nn.LSTM / nn.GRU, forward + backward.

Usage:
    python benchmarks/bench_layers.py            # full run, writes results/layers.json
    python benchmarks/bench_layers.py --quick    # a few repetitions, for a smoke check
    python benchmarks/bench_layers.py --device cuda

Every implementation is timed on the same inputs in interleaved rounds (torch, fused,
reference, torch, fused, ...), and the median per implementation is reported, so the
ratios compare like with like under the same machine load. "speed vs torch" is
torch_ms / ours_ms: 1.00 means as fast as torch, above 1 faster.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from rnnkit.layers import Recurrent

# (batch, time, input, hidden, layers): small tagging, Zaremba small/medium, char-rnn-sized.
CONFIGS = [(64, 50, 8, 64, 1), (20, 35, 200, 200, 2), (20, 35, 650, 650, 2), (64, 100, 65, 512, 2)]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time_once(module, x, device) -> float:
    _sync(device)
    start = time.perf_counter()
    out, _ = module(x)
    out.sum().backward()
    _sync(device)
    return (time.perf_counter() - start) * 1e3


def bench_config(cell: str, cfg, device, rounds: int, warmup: int) -> dict:
    batch, steps, inp, hid, layers = cfg
    torch.manual_seed(0)
    fused = Recurrent(cell, inp, hid, layers, batch_first=True).to(device)
    reference = Recurrent(cell, inp, hid, layers, batch_first=True, backend="reference").to(device)
    reference.load_state_dict(fused.state_dict())
    baseline = fused.to_torch()
    x = torch.randn(batch, steps, inp, device=device)
    impls = {"torch": baseline, "fused": fused, "reference": reference}
    times: dict[str, list[float]] = {k: [] for k in impls}
    for r in range(warmup + rounds):
        for name, module in impls.items():
            module.zero_grad(set_to_none=True)
            ms = _time_once(module, x, device)
            if r >= warmup:
                times[name].append(ms)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "cell": cell, "batch": batch, "time": steps, "input": inp, "hidden": hid, "layers": layers,
        "ms": med, "speed_vs_torch": {k: med["torch"] / med[k] for k in ("fused", "reference")},
        "rounds": rounds,
    }


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 rounds on the two smallest configs")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cells", default="lstm,gru")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "layers.json"))
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    configs = CONFIGS[:2] if args.quick else CONFIGS
    rounds, warmup = (3, 1) if args.quick else (args.rounds, 3)
    rows = []
    for cell in args.cells.split(","):
        for cfg in configs:
            rows.append(bench_config(cell, cfg, device, rounds, warmup))
            print_row(rows[-1])
    result = {
        "benchmark": "layers forward+backward float32",
        "device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(), "quick": args.quick, "rows": rows,
    }
    if not args.quick:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
    print_table(rows)
    return rows


def print_row(r):
    print(f"  {r['cell']} {r['batch']}x{r['time']}x{r['input']}->{r['hidden']}x{r['layers']}: "
          f"torch {r['ms']['torch']:.2f} ms, fused {r['ms']['fused']:.2f} ms, reference {r['ms']['reference']:.2f} ms",
          flush=True)


def print_table(rows):
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Recurrent vs torch.nn, forward+backward, float32 (ms per step; speed = torch/ours)")
    for col in ("cell", "B x T x I -> H x L", "torch ms", "fused ms", "fused speed", "reference ms", "reference speed"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["cell"], f"{r['batch']}x{r['time']}x{r['input']} -> {r['hidden']}x{r['layers']}",
                      f"{r['ms']['torch']:.2f}", f"{r['ms']['fused']:.2f}", f"{r['speed_vs_torch']['fused']:.2f}x",
                      f"{r['ms']['reference']:.2f}", f"{r['speed_vs_torch']['reference']:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
