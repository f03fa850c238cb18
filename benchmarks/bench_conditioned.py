"""Conditioned generation on SST-2: does a sentence generated for "positive" read as positive?

Usage (data from ../shared/data; nothing is downloaded):
    python benchmarks/bench_conditioned.py                 # about 10 minutes on 2 CPU cores
    python benchmarks/bench_conditioned.py --per-label 200 --temperatures 1.0,0.8

1. A word-level conditioned generator (``ConditionedGenerator``: the label sets the LSTM's
   initial state and is fed beside every word) is trained on stsa.binary.train with its
   labels, early-stopped on stsa.binary.dev.
2. A sentiment classifier is trained with rnnkit on the same training sentences (the
   bench_text.py SST-2 configuration) -- the judge.
3. ``--per-label`` sentences are sampled for each label at each temperature and judged.
   The goal: >= 80 % judged as the label they were generated for. For scale, the judge's
   accuracy on the real test sentences is reported beside it, as is the share of samples
   that copy a training sentence verbatim.
Writes benchmarks/results/conditioned_sst2.json and prints the figures and samples.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from bench_text import SST2

from rnnkit.data.labelled_text import read_labelled_sentences
from rnnkit.tasks.classify import RNNClassifier
from rnnkit.tasks.conditioned_lm import ConditionedGenerator

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
NAMES = {"0": "negative", "1": "positive"}

GENERATOR = dict(tokenizer="whitespace", lowercase=True, min_freq=2, max_length=60, cell="lstm", hidden_size=512,
                 num_layers=1, embedding_size=256, condition_size=64, condition_every_step=True, dropout=0.5,
                 batch_size=32, epochs=20, lr=2e-3, clip=5.0, early_stopping=3)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="dataset folder")
    ap.add_argument("--per-label", type=int, default=200)
    ap.add_argument("--temperatures", default="1.0,0.8")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    root = args.data or SHARED / "sst-and-sentence-classification"
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (read_labelled_sentences(root / f"stsa.binary.{s}", "space")
                                               for s in ("train", "dev", "test"))

    params = dict(GENERATOR, device=args.device, seed=args.seed, verbose=args.progress)
    if args.epochs:
        params["epochs"] = args.epochs
    t0 = time.perf_counter()
    gen = ConditionedGenerator(**params).fit(x_tr, y_tr, x_va, y_va)
    gen_s = time.perf_counter() - t0
    test_ppl = gen.score(x_te, y_te)["ppl"]
    # the same sentences scored under the wrong label: how much the label matters
    swapped_ppl = gen.score(x_te, ["1" if y == "0" else "0" for y in y_te])["ppl"]

    t0 = time.perf_counter()
    judge = RNNClassifier(**dict(SST2, device=args.device, seed=args.seed, verbose=args.progress)).fit(
        x_tr, y_tr, x_va, y_va)
    judge_s = time.perf_counter() - t0
    judge_test = 100 * judge.score(x_te, y_te)

    seen = {s.strip().lower() for s in x_tr}
    runs = []
    for temperature in (float(t) for t in args.temperatures.split(",")):
        per_label, samples = {}, {}
        for k, label in enumerate(gen.classes_):
            sentences = gen.generate(label, n=args.per_label, temperature=temperature, seed=args.seed + k)
            judged = judge.predict(sentences)
            per_label[NAMES.get(label, label)] = 100 * float(np.mean(judged == label))
            samples[NAMES.get(label, label)] = {
                "sentences": sentences[:8], "copies_of_training": 100 * float(np.mean([s in seen for s in sentences])),
                "mean_words": float(np.mean([len(s.split()) for s in sentences]))}
        overall = float(np.mean(list(per_label.values())))
        runs.append({"temperature": temperature, "judged_as_requested": overall, "per_label": per_label,
                     "samples": samples})
        print(f"temperature {temperature}: {overall:.1f}% judged as requested "
              f"({', '.join(f'{k} {v:.1f}%' for k, v in per_label.items())})")
        for name, s in samples.items():
            print(f"  {name} ({s['copies_of_training']:.1f}% copies of training sentences):")
            for sentence in s["sentences"][:4]:
                print(f"    {sentence}")

    result = {"task": "conditioned-sst2", "generator": params, "generator_epochs": sum(
        r["kind"] == "valid" for r in gen.history_), "generator_seconds": gen_s,
        "generator_valid_ppl": float(np.exp(gen.best_valid_loss_)), "generator_test_ppl": test_ppl,
        "generator_test_ppl_wrong_label": swapped_ppl, "judge": dict(SST2), "judge_test_accuracy": judge_test,
        "judge_seconds": judge_s, "per_label": args.per_label, "runs": runs, "goal": ">= 80% judged as requested",
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "command": "python benchmarks/bench_conditioned.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    (HERE / "results" / "conditioned_sst2.json").write_text(json.dumps(result, indent=1))
    print(f"generator: test perplexity {test_ppl:.1f} ({swapped_ppl:.1f} under the wrong label), "
          f"{result['generator_epochs']} epochs in {gen_s:.0f} s; judge: test accuracy {judge_test:.1f}% "
          f"({judge_s:.0f} s)")
    return result


if __name__ == "__main__":
    main()
