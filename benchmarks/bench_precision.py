"""bfloat16 vs float32 training on the CPU: the recurrent kernels, then whole training runs.

Usage:
    python benchmarks/bench_precision.py            # writes results/precision.json
    python benchmarks/bench_precision.py --quick    # fewer steps and rounds (smoke check)
    python benchmarks/bench_precision.py --part training   # only the training runs (kernels kept)

1. Kernels: forward + backward of rnnkit's ``Recurrent`` (LSTM and GRU) in float32 and under
   ``torch.autocast("cpu", torch.bfloat16)``, beside ``torch.nn.LSTM``/``GRU`` under the same
   autocast, at the char-rnn preset's shape (B 50, T 50, 2 x 512), zaremba-medium's
   (B 20, T 35, 2 x 650) and (B 64, T 100, 2 x 512); interleaved rounds, medians.
2. Training: the char-rnn preset on Tiny Shakespeare and zaremba-medium on PTB, the same
   number of steps with ``precision="fp32"`` and ``"bf16"`` from the same seed, alternating
   in rounds: tokens per second (the training steps alone) and the validation loss after
   those steps (on the first 50k validation tokens); and float32 from another seed, whose
   difference from seed 0 is the noise a precision's difference is judged against.

Data from ../shared/data (nothing is downloaded). The thread count and load average are
recorded; on 2 shared cores run nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from rnnkit.layers import Recurrent
from rnnkit.tasks import lm

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
SHAPES = [("char-rnn", 50, 50, 64, 512, 2), ("zaremba-medium", 20, 35, 650, 650, 2), ("large", 64, 100, 512, 512, 2)]


def kernel_table(rounds: int) -> list[dict]:
    rows = []
    for cell in ("lstm", "gru"):
        for name, B, T, n_in, H, L in SHAPES:
            torch.manual_seed(0)
            ours = Recurrent(cell, n_in, H, num_layers=L, batch_first=True)
            ref = (nn.LSTM if cell == "lstm" else nn.GRU)(n_in, H, L, batch_first=True)
            x = torch.randn(B, T, n_in)

            def run(module, bf16, x=x):
                with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                    out, _ = module(x)
                out.float().sum().backward()

            impls = {"rnnkit fp32": (ours, False), "rnnkit bf16": (ours, True),
                     "nn fp32": (ref, False), "nn bf16 autocast": (ref, True)}
            times: dict[str, list[float]] = {k: [] for k in impls}
            for r in range(rounds + 1):
                for k, (m, bf16) in impls.items():
                    t0 = time.perf_counter()
                    run(m, bf16)
                    if r:  # round 0 warms up
                        times[k].append((time.perf_counter() - t0) * 1000)
            med = {k: statistics.median(v) for k, v in times.items()}
            rows.append({"cell": cell, "shape": name, "B": B, "T": T, "I": n_in, "H": H, "L": L,
                         **{f"{k} ms": round(v, 2) for k, v in med.items()},
                         "rnnkit bf16 speed-up": round(med["rnnkit fp32"] / med["rnnkit bf16"], 2),
                         "nn bf16 speed-up": round(med["nn fp32"] / med["nn bf16 autocast"], 2)})
            print(rows[-1], flush=True)
    return rows


def train_once(preset: str, precision: str, steps: int, seed: int = 0) -> dict:
    if preset.startswith("zaremba"):
        root = SHARED / "ptb"
        data = dict(train_files=[str(root / "ptb.train.txt")], valid_file=str(root / "ptb.valid.txt"),
                    test_file=str(root / "ptb.test.txt"), eval_batch_size=10)
    else:
        data = dict(train_files=[str(SHARED / "tinyshakespeare" / "input.txt")])
    settings = lm.LMSettings.from_preset(preset, **data, max_steps=steps, precision=precision, progress=False,
                                         sample_every=0.0, checkpoint_every=0, eval_max_tokens=50_000, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        lm.train(settings, Path(tmp) / "run")
        records = [json.loads(x) for x in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines() if x]
    train = [r for r in records if r["kind"] == "train"]
    valid = [r for r in records if r["kind"] == "valid"]
    return {"tokens_per_s": train[-1]["items_per_s"], "valid_loss": valid[-1]["loss"], "steps": train[-1]["step"]}


def training_table(presets: list[tuple[str, int]], rounds: int) -> list[dict]:
    rows = []
    for preset, steps in presets:
        # "fp32 seed 1": the same run from another seed, the noise a precision's difference is judged by
        configs = {"fp32": ("fp32", 0), "bf16": ("bf16", 0), "fp32 seed 1": ("fp32", 1)}
        runs: dict[str, list[dict]] = {k: [] for k in configs}
        for r in range(rounds):
            for name, (precision, seed) in configs.items():
                if name == "fp32 seed 1" and r:  # its loss is all it is for
                    continue
                runs[name].append(train_once(preset, precision, steps, seed))
                print(preset, name, runs[name][-1], flush=True)
        tps = {p: statistics.median(r["tokens_per_s"] for r in v) for p, v in runs.items()}
        loss = {p: statistics.median(r["valid_loss"] for r in v) for p, v in runs.items()}
        rows.append({"preset": preset, "steps": steps, "fp32 tokens/s": round(tps["fp32"]),
                     "bf16 tokens/s": round(tps["bf16"]), "speed-up": round(tps["bf16"] / tps["fp32"], 2),
                     "fp32 valid loss": round(loss["fp32"], 4), "bf16 valid loss": round(loss["bf16"], 4),
                     "fp32 seed 1 valid loss": round(loss["fp32 seed 1"], 4), "runs": runs})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--part", choices=["all", "kernels", "training"], default="all")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "precision.json")
    args = ap.parse_args()
    load_before = os.getloadavg()
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    kernels = kernel_table(3 if args.quick else 10) if args.part in ("all", "kernels") else old.get("kernels", [])
    steps = 20 if args.quick else 150
    training = (training_table([("char-rnn", steps), ("zaremba-medium", steps)], 1 if args.quick else 2)
                if args.part in ("all", "training") else old.get("training", []))
    result = {"machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "kernels": kernels, "training": training}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print("\n| cell | shape | rnnkit fp32 ms | rnnkit bf16 ms | speed-up | nn.* bf16 autocast speed-up |")
    print("|---|---|---:|---:|---:|---:|")
    for r in kernels:
        print(f"| {r['cell']} | {r['shape']} | {r['rnnkit fp32 ms']} | {r['rnnkit bf16 ms']} | "
              f"{r['rnnkit bf16 speed-up']}x | {r['nn bf16 speed-up']}x |")
    print("\n| preset | steps | fp32 tokens/s | bf16 tokens/s | speed-up | fp32 valid loss | bf16 valid loss "
          "| fp32, seed 1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in training:
        print(f"| {r['preset']} | {r['steps']} | {r['fp32 tokens/s']} | {r['bf16 tokens/s']} | {r['speed-up']}x | "
              f"{r['fp32 valid loss']} | {r['bf16 valid loss']} | {r.get('fp32 seed 1 valid loss', '-')} |")
    print(f"\nthreads {result['threads']}, load average {load_before[0]:.2f} -> {result['load_average_after'][0]:.2f}")


if __name__ == "__main__":
    main()
