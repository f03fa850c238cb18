"""Transfer learning for text (ULMFiT, Howard & Ruder 2018) against training from scratch and
the bag-of-words baseline, on IMDb and SST-2.

Stages (each writes into --out and is skipped when its result is there already):

1. ``pretrain``: an AWD-LSTM language model (`--preset awd-lstm`, narrowed to fit a CPU:
   LSTMP 512 units projected to 256, embeddings 256, 20,000 words, bf16) on the 50,000
   unlabelled IMDb reviews (``unsup.txt.gz``; no general-English corpus of Wikipedia's size is
   in ../shared/data), a budget of optimiser steps;
2. ``imdb``: the language model fine-tuned on the 25,000 training reviews' text
   (``lm train --init-from --text-col text``), then ``classify train --encoder`` on them
   (concat pooling, gradual unfreezing, discriminative and slanted triangular learning
   rates), tested on the 25,000 test reviews; beside it the from-scratch BiLSTM (defaults) and
   the bag-of-words baseline on the same split;
3. ``sst2``: the same from the stage-1 model on SST-2 (stsa.binary.train -> .test).

Usage (data from ../shared/data):
    python benchmarks/bench_ulmfit.py --stage all --out /tmp/ulmfit   # writes results/ulmfit.json

Reviews are cut to --max-length tokens (their first quarter and last three quarters) for the
classifiers, to keep a CPU run to hours; the published ULMFiT numbers read whole reviews.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
IMDB = SHARED / "imdb"
SST = SHARED / "sst-and-sentence-classification"
RESULTS = HERE / "results" / "ulmfit.json"

#: the pretraining language model: the awd-lstm preset, narrowed for a CPU
PRETRAIN = dict(preset="awd-lstm", hidden_size=512, proj_size=256, embedding_size=256, max_vocab=20_000,
                precision="bf16", epochs=1, max_steps=2200, batch_size=64, checkpoint_every=200)


def pretrain(out: Path) -> dict:
    from rnnkit.tasks.lm import LanguageModeler

    run = out / "pretrain"
    if (run / "done.json").exists():
        return json.loads((run / "done.json").read_text())
    start = time.perf_counter()
    resume = (run / "last.safetensors").exists()
    lm = LanguageModeler(**PRETRAIN, verbose=True, run_dir=run)
    lm.fit(str(IMDB / "unsup.txt.gz"), resume=resume)
    scores = lm.split_scores()
    result = {"config": PRETRAIN, "seconds": time.perf_counter() - start, "steps": lm.history_[-1]["step"]
              if lm.history_ else None, "valid_ppl": scores["valid"]["ppl"], "test_ppl": scores["test"]["ppl"],
              "checkpoint": str(run / "best.safetensors")}
    (run / "done.json").write_text(json.dumps(result, indent=1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="all", choices=("pretrain", "imdb", "sst2", "all"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/ulmfit"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["pretrain"] = pretrain(args.out)
    print("pretrain", results["pretrain"], flush=True)
    results["load_average"] = list(os.getloadavg())
    results["threads"] = args.threads
    RESULTS.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
