"""Text benchmarks: SST-2 sentence classification and UD English EWT part-of-speech tagging.

Usage (data from ../shared/data; nothing is downloaded):
    python benchmarks/bench_text.py sst2            # BiLSTM on stsa.binary.{train,dev,test}
    python benchmarks/bench_text.py pos             # word + char BiLSTM tagger, UPOS
    python benchmarks/bench_text.py pos --max-time 1200 --epochs 15

Both train from random initialisation: no pretrained word vectors (none can be fetched
here), so SST-2 is compared with Tai et al. (2015)'s LSTM 84.9 / BiLSTM 87.5, which used
GloVe vectors, and with Kim (2014)'s CNN-rand 83.5, which did not.
Writes benchmarks/results/text_<task>.json and prints a summary line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from rnnkit.data.conll import read_conll
from rnnkit.data.labelled_text import read_labelled_sentences
from rnnkit.tasks.classify import RNNClassifier
from rnnkit.tasks.tag import RNNTagger

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"

PUBLISHED = {
    "sst2": "Tai et al. 2015 (GloVe): LSTM 84.9, BiLSTM 87.5; Kim 2014 CNN-rand (no pretraining) 83.5",
    "pos": "BiLSTM word + char tagger without pretraining: about 94.5-95.5 UPOS (shared/data README)",
}

SST2 = dict(cell="lstm", hidden_size=150, num_layers=1, bidirectional=True, pooling="max", dropout=0.5,
            embedding_size=300, char_features=False, min_freq=1, epochs=12, batch_size=32, lr=1e-3,
            early_stopping=4)
POS = dict(hidden_size=128, num_layers=2, dropout=0.33, embedding_size=100, char_features=True, epochs=20,
           batch_size=32, lr=2e-3, early_stopping=3)


def sst2(args) -> dict:
    root = args.data or SHARED / "sst-and-sentence-classification"
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (read_labelled_sentences(root / f"stsa.binary.{s}", "space")
                                               for s in ("train", "dev", "test"))
    params = dict(SST2, device=args.device, seed=args.seed, verbose=args.progress, max_time=args.max_time)
    if args.epochs:
        params["epochs"] = args.epochs
    t0 = time.perf_counter()
    clf = RNNClassifier(**params).fit(x_tr, y_tr, x_va, y_va)
    fit_s = time.perf_counter() - t0
    return {"task": "sst2", "params": params, "train": len(x_tr), "dev_accuracy": 100 * clf.score(x_va, y_va),
            "test_accuracy": 100 * clf.score(x_te, y_te), "epochs_run": sum(r["kind"] == "valid" for r in clf.history_),
            "fit_seconds": fit_s, "published": PUBLISHED["sst2"]}


def pos(args) -> dict:
    root = args.data or SHARED / "ud-english-ewt"
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (read_conll(root / f"en_ewt-ud-{s}.conllu", "upos")
                                               for s in ("train", "dev", "test"))
    params = dict(POS, device=args.device, seed=args.seed, verbose=args.progress, max_time=args.max_time)
    if args.epochs:
        params["epochs"] = args.epochs
    t0 = time.perf_counter()
    tagger = RNNTagger(**params).fit(x_tr, y_tr, x_va, y_va)
    fit_s = time.perf_counter() - t0
    return {"task": "pos", "params": params, "train_sentences": len(x_tr), "train_tokens": sum(map(len, x_tr)),
            "dev_accuracy": 100 * tagger.score(x_va, y_va), "test_accuracy": 100 * tagger.score(x_te, y_te),
            "epochs_run": sum(r["kind"] == "valid" for r in tagger.history_), "fit_seconds": fit_s,
            "published": PUBLISHED["pos"]}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task", choices=["sst2", "pos"])
    ap.add_argument("--data", type=Path, help="dataset folder")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--max-time", type=float, help="seconds of training before stopping")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    result = sst2(args) if args.task == "sst2" else pos(args)
    result.update(torch=torch.__version__, threads=torch.get_num_threads(),
                  command="python benchmarks/bench_text.py " + " ".join(sys.argv[1:] if argv is None else argv))
    path = HERE / "results" / f"text_{args.task}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"{args.task}: dev {result['dev_accuracy']:.2f} test {result['test_accuracy']:.2f} "
          f"({result['epochs_run']} epochs, {result['fit_seconds']:.0f} s); published: {result['published']}")
    return result


if __name__ == "__main__":
    main()
