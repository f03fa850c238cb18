"""UCR/UEA time-series classification: one configuration for every dataset, no tuning.

Usage (data from ../shared/data/ucr and the aeon package's bundled files; nothing is
downloaded by this script):
    pip install --no-deps aeon          # only for its data files: GunPoint, ItalyPowerDemand, ...
    python benchmarks/bench_ucr.py                          # the default configuration (lstm-fcn)
    python benchmarks/bench_ucr.py --config bilstm          # recurrent encoder alone
    python benchmarks/bench_ucr.py --datasets Coffee CBF --epochs 20
    python benchmarks/bench_ucr.py --config defaults --datasets Wine Plane ToeSegmentation1 PowerCons \
        BirdChicken SmoothSubspace        # the defaults, on sets the configuration was not chosen on
    python benchmarks/bench_ucr.py --baseline-only --config defaults   # add the 1-NN ED column to saved results

Writes benchmarks/results/ucr_<config>.json and prints a table of test accuracy per
dataset beside rnnkit's 1-NN Euclidean baseline (the one ``classify train`` prints; it
reproduces the archive's published 1-NN ED error rates), the published FCN and ResNet
(Fawaz et al. 2019, mean of 5 runs on the 2018 archive; 10 runs for the multivariate
JapaneseVowels) and LSTM-FCN (Karim et al. 2018) numbers, read from
../shared/data/ucr/reference/, with the wall time of each run.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rnnkit.data.ucr import read_series_file
from rnnkit.tasks.classify import RNNClassifier, series_baseline

HERE = Path(__file__).resolve().parent
UCR = HERE.parent.parent / "shared" / "data" / "ucr"
SHARED_SETS = ["Adiac", "Beef", "CBF", "Coffee", "ECG200", "FaceAll", "SwedishLeaf"]
AEON_SETS = ["GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions", "JapaneseVowels"]

#: The configurations compared; each is used unchanged on every dataset.
CONFIGS = {
    # LSTM-FCN (Karim et al. 2018): BiLSTM + fully convolutional branch, model chosen by training loss.
    "lstm-fcn": dict(conv_branch=True, hidden_size=64, bidirectional=True, pooling="last", dropout=0.2,
                     epochs=150, batch_size=16, lr=3e-3, schedule="cosine", validation_fraction=0.0,
                     early_stopping=None),
    # What a new user gets: RNNClassifier() with no arguments (its series defaults).
    "defaults": {},
    # The recurrent encoder alone, same training.
    "bilstm": dict(conv_branch=False, hidden_size=64, bidirectional=True, pooling="mean", dropout=0.2,
                   epochs=150, batch_size=16, lr=3e-3, schedule="cosine", validation_fraction=0.0,
                   early_stopping=None),
}


def aeon_data() -> Path | None:
    spec = importlib.util.find_spec("aeon")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def dataset_files(name: str) -> tuple[Path, Path] | None:
    if name in SHARED_SETS or (UCR / name).is_dir():
        d = UCR / name
        train, test = d / f"{name}_TRAIN.tsv", d / f"{name}_TEST.tsv"
    else:
        root = aeon_data()
        if root is None:
            return None
        train, test = root / name / f"{name}_TRAIN.ts", root / name / f"{name}_TEST.ts"
    return (train, test) if train.exists() and test.exists() else None


def published() -> dict[str, dict[str, float]]:
    """dataset -> {"FCN": %, "ResNet": %, "LSTM-FCN": %} from the reference CSVs."""
    ref = UCR / "reference"
    out: dict[str, dict[str, float]] = {}
    runs: dict[tuple[str, str], list[float]] = {}
    path = ref / "dl4tsc_results-ucr-128.csv"
    if path.exists():
        for row in csv.DictReader(open(path, encoding="utf-8")):
            runs.setdefault((row["dataset_name"], row["classifier_name"]), []).append(float(row["accuracy"]))
        for (ds, clf), accs in runs.items():
            name = {"fcn": "FCN", "resnet": "ResNet"}.get(clf)
            if name:
                out.setdefault(ds, {})[name] = 100 * float(np.mean(accs))
    path = ref / "dl4tsc_results-mts-avg-std.csv"
    if path.exists():
        for row in csv.DictReader(open(path, encoding="utf-8")):
            ds = row[""]
            for name in ("FCN", "ResNet"):
                m = re.match(r"([\d.]+)", row.get(name, ""))
                if m:
                    out.setdefault(ds, {})[name] = float(m.group(1))
    path = ref / "lstmfcn_train_loss_old_datasets.csv"
    if path.exists():
        for row in csv.DictReader(open(path, encoding="utf-8")):
            name = {"Gun_Point": "GunPoint"}.get(row["Dataset"], row["Dataset"])  # the 2015 archive's spelling
            out.setdefault(name, {})["LSTM-FCN"] = 100 * float(row["LSTM-FCN"])
    return out


def run(name: str, config: dict, epochs: int | None, seed: int) -> dict:
    files = dataset_files(name)
    if files is None:
        return {"dataset": name, "skipped": "data not found (../shared/data/ucr, or pip install --no-deps aeon)"}
    train, test = read_series_file(files[0]), read_series_file(files[1])
    params = dict(config, device="cpu", seed=seed)
    if epochs:
        params["epochs"] = epochs
    t0 = time.perf_counter()
    clf = RNNClassifier(**params).fit(train.series, train.labels)
    fit_s = time.perf_counter() - t0
    acc = clf.score(test.series, test.labels)
    return {"dataset": name, "train": len(train), "test": len(test), "classes": len(clf.classes_),
            "length": int(train.lengths.max()), "channels": train.channels, "accuracy": 100 * acc,
            "nn_ed": baseline(name), "epochs": clf._effective("epochs"), "fit_seconds": fit_s}


def baseline(name: str) -> float | None:
    """Test accuracy (%) of 1-NN Euclidean on z-normalised series, or None without the data."""
    files = dataset_files(name)
    if files is None:
        return None
    train, test = read_series_file(files[0]), read_series_file(files[1])
    return 100 * series_baseline(train.series, train.labels, test.series, test.labels)["accuracy"]


def table(results: list[dict], refs: dict) -> str:
    lines = ["| dataset | train/test | rnnkit | 1-NN ED | FCN | ResNet | LSTM-FCN | fit time |",
             "|---|---|---|---|---|---|---|---|"]
    fmt = (lambda v: f"{v:.1f}" if v is not None else "–")
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['dataset']} | – | skipped: {r['skipped']} | | | | | |")
            continue
        ref = refs.get(r["dataset"], {})
        lines.append(f"| {r['dataset']} | {r['train']}/{r['test']} | **{r['accuracy']:.1f}** | {fmt(r.get('nn_ed'))} | "
                     f"{fmt(ref.get('FCN'))} | {fmt(ref.get('ResNet'))} | {fmt(ref.get('LSTM-FCN'))} | "
                     f"{r['fit_seconds']:.0f} s |")
    done = [r for r in results if "accuracy" in r]
    both = [r for r in done if "FCN" in refs.get(r["dataset"], {})]
    if both:
        ours = np.mean([r["accuracy"] for r in both])
        fcn = np.mean([refs[r["dataset"]]["FCN"] for r in both])
        resnet = [refs[r["dataset"]].get("ResNet") for r in both]
        nn = [r.get("nn_ed") for r in both]
        nn_mean = f"{np.mean(nn):.1f}" if None not in nn else "–"
        lines.append(f"| mean over the {len(both)} with an FCN number | | **{ours:.1f}** | {nn_mean} | {fcn:.1f} | "
                     f"{np.mean(resnet):.1f} | | {sum(r['fit_seconds'] for r in done):.0f} s total |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="lstm-fcn")
    ap.add_argument("--datasets", nargs="+", default=SHARED_SETS + AEON_SETS)
    ap.add_argument("--epochs", type=int, help="override the configuration's epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--baseline-only", action="store_true",
                    help="train nothing: add the 1-NN ED baseline to the saved results of --config (and --epochs)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    refs = published()
    if args.baseline_only:
        return add_baselines(HERE / "results" / f"ucr_{args.config}{f'_e{args.epochs}' if args.epochs else ''}.json",
                             refs)
    results = []
    for name in args.datasets:
        r = run(name, CONFIGS[args.config], args.epochs, args.seed)
        results.append(r)
        print(json.dumps(r), flush=True)
    suffix = f"_e{args.epochs}" if args.epochs else ""
    path = HERE / "results" / f"ucr_{args.config}{suffix}.json"
    command = "python benchmarks/bench_ucr.py " + " ".join(sys.argv[1:] if argv is None else argv)
    for r in results:
        r["command"] = command
    # A run over some datasets updates those rows of an earlier run with the same settings.
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("params") == CONFIGS[args.config] and old.get("epochs_override") == args.epochs \
                and old.get("seed") == args.seed:
            rerun = {r["dataset"] for r in results}
            order = [r["dataset"] for r in old["results"]] + [d for d in args.datasets if d not in
                                                                {r["dataset"] for r in old["results"]}]
            merged = {r["dataset"]: r for r in old["results"] if r["dataset"] not in rerun}
            merged.update({r["dataset"]: r for r in results})
            results = [merged[d] for d in order if d in merged]
    out = {"config": args.config, "params": CONFIGS[args.config], "epochs_override": args.epochs,
           "seed": args.seed, "threads": args.threads, "torch": torch.__version__, "results": results}
    path.write_text(json.dumps(out, indent=1))
    print(table(results, refs))
    print(f"wrote {path}")
    return out


def add_baselines(path: Path, refs: dict) -> dict:
    """The 1-NN ED column for results saved before it existed (deterministic: no model is retrained)."""
    saved = json.loads(path.read_text())
    for r in saved["results"]:
        if "accuracy" in r:
            r["nn_ed"] = baseline(r["dataset"])
    path.write_text(json.dumps(saved, indent=1))
    print(table(saved["results"], refs))
    print(f"wrote {path}")
    return saved


if __name__ == "__main__":
    main()
