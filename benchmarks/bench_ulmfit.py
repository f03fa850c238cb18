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
   rates), tested on the 25,000 test reviews; beside it the from-scratch BiLSTM (defaults),
   the same recipe on the same language model untrained (ULMFiT's "without pretraining"
   ablation) and the bag-of-words baseline on the same split;
3. ``sst2``: the same from the stage-1 model on SST-2 (stsa.binary.train -> .test).

Usage (data from ../shared/data):
    python benchmarks/bench_ulmfit.py --stage all --out /tmp/ulmfit   # writes results/ulmfit.json
    # a whole epoch of pretraining (continues /tmp/ulmfit's 1,200 steps when copied there first):
    python benchmarks/bench_ulmfit.py --stage pretrain --pretrain-steps 0 --out /tmp/ulmfit_epoch --tag "epoch"
    python benchmarks/bench_ulmfit.py --stage imdb --epochs 6 --out /tmp/ulmfit_epoch --tag "epoch"
    python benchmarks/bench_ulmfit.py --stage sst2 --out /tmp/ulmfit_epoch --tag "epoch"   # after, not beside it
    # whole reviews, backpropagated through their last 128 tokens (BPT3C), on the "epoch" model:
    python benchmarks/bench_ulmfit.py --stage imdb --epochs 6 --max-length 0 --bptt 128 --transfer-only \
        --out /tmp/ulmfit_epoch --tag "epoch, whole reviews"

On a GPU, time-boxed (see benchmarks/ulmfit_gpu.sh, which runs these with its budgets):
    python benchmarks/bench_ulmfit.py --stage pretrain --device cuda --full-size --pretrain-time 170 \
        --pretrain-batch-size 256 --out /tmp/ulmfit_gpu --tag GPU --no-baselines
    python benchmarks/bench_ulmfit.py --stage imdb --device cuda --full-size --finetune-time 40 --classify-time 200 \
        --classify-batch-size 64 --epochs 4 --max-length 0 --transfer-only --no-baselines \
        --out /tmp/ulmfit_gpu --tag GPU

Reviews are cut to --max-length tokens (their first quarter and last three quarters) for the
classifiers and scored on a fixed sample of --test-size test reviews, to keep a CPU run to an
hour; the published ULMFiT numbers read whole reviews, all 25,000 of them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
IMDB = SHARED / "imdb"
SST = SHARED / "sst-and-sentence-classification"
RESULTS = HERE / "results" / "ulmfit.json"

#: the pretraining language model: the awd-lstm preset, narrowed for a CPU
PRETRAIN = dict(preset="awd-lstm", hidden_size=512, proj_size=256, embedding_size=256, max_vocab=20_000,
                precision="bf16", epochs=1, batch_size=64, checkpoint_every=100)
#: on a GPU (--full-size): the awd-lstm preset as it is (LSTMP 1150 -> 400, 60,000 words), in
#: float32 (TF32 matrix products: cuDNN's bf16 LSTM is not relied on)
#: (checkpoints at epoch ends only: a mid-epoch one with Adam's moments is 0.5 GB, every few seconds there)
PRETRAIN_FULL = dict(preset="awd-lstm", precision="fp32", epochs=1, checkpoint_every=0)

#: --device, --full-size, --precision, the time budgets (seconds) of a GPU run and whether the
#: bag of words runs (--no-baselines); set by main()
RUN: dict = {"device": "auto", "full_size": False, "precision": "bf16", "pretrain_time": None,
             "finetune_time": None, "classify_time": None, "baselines": True, "pretrain_batch_size": None,
             "classify_batch_size": None}


def _probe_rate(out: Path, config: dict) -> tuple[float, float]:
    """Training speed of ``config`` measured on the first 2,000 unlabelled reviews (60 steps):
    (tokens per second over the last 30, tokens per character of text). The first steps are
    left out: on a GPU they include cuDNN's and the allocator's warm-up (over steps 10-30 an
    H200 measured half its steady speed)."""
    import gzip

    from rnnkit.tasks.lm import LanguageModeler

    probe = out / "probe"
    probe.mkdir(parents=True, exist_ok=True)
    with gzip.open(IMDB / "unsup.txt.gz", "rt", encoding="utf-8") as f:
        text = "".join(line for _, line in zip(range(2000), f))
    (probe / "text.txt").write_text(text, encoding="utf-8")
    lm = LanguageModeler(**{**config, "max_time": None, "max_steps": 60, "checkpoint_every": 0},
                         run_dir=probe / "run")
    lm.fit(str(probe / "text.txt"), overwrite=True)
    rates = [h["items_per_s"] for h in lm.history_ if h.get("items_per_s") and h.get("step", 0) > 30]
    tokens = sum(lm.unigram_counts_) / 0.9  # the training split is 90 % of the text
    return float(np.median(rates)), tokens / len(text)


def pretrain(out: Path, steps: int | None) -> dict:
    """Stage 1, ``steps`` optimiser steps (None: the whole epoch). A run stopped at fewer steps
    resumes from its last checkpoint: the cosine schedule spans the epoch either way, so a
    longer budget continues the same run. With a time budget (``--pretrain-time``) the speed is
    measured first and the schedule spans as many whole epochs as the budget holds (at least
    one; the budget stops the run when the measurement was optimistic)."""
    import gzip

    from rnnkit.tasks.lm import LanguageModeler

    run = out / "pretrain"
    config = {**(PRETRAIN_FULL if RUN["full_size"] else PRETRAIN), "max_steps": steps, "device": RUN["device"]}
    if RUN["pretrain_batch_size"]:  # on a GPU each step's time hardly grows with the batch
        config["batch_size"] = RUN["pretrain_batch_size"]
    done = run / "done.json"
    if done.exists():
        result = json.loads(done.read_text())
        if steps is not None and result["steps"] >= steps or result.get("complete"):
            return result
    start = time.perf_counter()
    probe = None
    if RUN["pretrain_time"]:
        rate, tokens_per_char = _probe_rate(out, config)
        with gzip.open(IMDB / "unsup.txt.gz", "rt", encoding="utf-8") as f:
            tokens = 0.9 * tokens_per_char * sum(len(line) for line in f)
        epochs = max(1, int(RUN["pretrain_time"] * rate / tokens))
        config.update(epochs=epochs, max_time=RUN["pretrain_time"], max_steps=None)
        probe = {"tokens_per_s": rate, "train_tokens_estimate": tokens, "seconds": time.perf_counter() - start}
        print(f"probe: {rate:,.0f} tokens/s, about {tokens:,.0f} training tokens: {epochs} epoch(s)", flush=True)
    resume = (run / "last.safetensors").exists()
    lm = LanguageModeler(**config, verbose=True, run_dir=run)
    lm.fit(str(IMDB / "unsup.txt.gz"), resume=resume)
    scores = lm.split_scores()
    result = {"config": config, "seconds": time.perf_counter() - start, "steps": lm.history_[-1]["step"]
              if lm.history_ else None, "valid_ppl": scores["valid"]["ppl"], "test_ppl": scores["test"]["ppl"],
              "checkpoint": str(run / "best.safetensors"), "complete": steps is None or probe is not None,
              "probe": probe,
              "device": str(next(lm.model_.parameters()).device)}
    done.write_text(json.dumps(result, indent=1))
    return result


#: fine-tuning the language model on the task's texts: ULMFiT's slanted triangular rates
FINETUNE = dict(lr=1e-3, schedule="slanted", precision="bf16", checkpoint_every=100)


def finetune(out: Path, name: str, train: Path, valid: Path | None, budget: dict) -> dict:
    """Stage 2: the pretrained model fine-tuned on the texts of ``train`` (their text column)."""
    from rnnkit.tasks.lm import LanguageModeler

    run = out / f"{name}_lm"
    if (run / "done.json").exists():
        return json.loads((run / "done.json").read_text())
    start = time.perf_counter()
    resume = (run / "last.safetensors").exists()
    if RUN["finetune_time"]:  # a GPU run: whole epochs, the time budget as a guard
        budget = {**budget, "max_steps": None, "max_time": RUN["finetune_time"], "checkpoint_every": 0}
    lm = LanguageModeler(init_from=str(out / "pretrain" / "best.safetensors"), text_col="text",
                         **{**FINETUNE, "precision": RUN["precision"], **budget}, device=RUN["device"],
                         verbose=True, run_dir=run)
    lm.fit(str(train), valid=str(valid) if valid else None, test=str(valid) if valid else None, resume=resume)
    scores = lm.split_scores()
    result = {"config": {**FINETUNE, "precision": RUN["precision"], **budget, "device": RUN["device"]},
              "seconds": time.perf_counter() - start,
              "steps": lm.history_[-1]["step"] if lm.history_ else None, "valid_ppl": scores["valid"]["ppl"],
              "checkpoint": str(run / "best.safetensors")}
    (run / "done.json").write_text(json.dumps(result, indent=1))
    return result


def test_subset(test: Path, size: int | None):
    """The test file's examples, or a fixed random ``size`` of them (seed 0)."""
    from rnnkit.tasks.io import read_labelled_file

    te = read_labelled_file(test)
    if size is None or size >= len(te.X):
        return list(te.X), list(te.y)
    keep = np.sort(np.random.default_rng(0).choice(len(te.X), size, replace=False))
    return [te.X[i] for i in keep], [te.y[i] for i in keep]


def classify(out: Path, name: str, train: Path, valid: Path | None, test: Path, params: dict,
             test_size: int | None = None) -> dict:
    """A classifier with ``params`` (``encoder`` for transfer), trained and tested."""
    from rnnkit.tasks.classify import RNNClassifier
    from rnnkit.tasks.io import read_labelled_file

    done = out / f"{name}.json"
    if done.exists():
        return json.loads(done.read_text())
    tr = read_labelled_file(train)
    te_X, te_y = test_subset(test, test_size)
    va = read_labelled_file(valid) if valid else None
    start = time.perf_counter()
    clf = RNNClassifier(**params, device=RUN["device"], max_time=RUN["classify_time"], verbose=True,
                        run_dir=str(out / name))
    clf.fit(tr.X, tr.y, va.X if va else None, va.y if va else None, overwrite=True)
    fit = {"params": params, "train": len(tr.X), "fit_seconds": time.perf_counter() - start,
           "epochs_run": sum(h["kind"] == "valid" for h in clf.history_), "best_valid_loss": clf.best_valid_loss_,
           "valid_accuracy_by_epoch": [h.get("accuracy") for h in clf.history_ if h["kind"] == "valid"],
           "threads": torch.get_num_threads(), "load_average": list(os.getloadavg()),
           "device": str(next(clf.model_.parameters()).device)}
    # the fit's record before the test set is scored: a run stopped while scoring keeps it
    (out / f"{name}.fit.json").write_text(json.dumps(fit, indent=1))
    start = time.perf_counter()
    accuracy = clf.score(te_X, te_y)
    result = {**fit, "test": len(te_X), "test_accuracy": 100 * accuracy,
              "predict_seconds": time.perf_counter() - start}
    done.write_text(json.dumps(result, indent=1))
    return result


def bag_of_words(out: Path, name: str, train: Path, test: Path, test_size: int | None = None,
                 max_length: int | None = None) -> dict | None:
    """The bag-of-words baseline on whole texts, or (``max_length``) on the tokens the
    transfer classifier reads: the language model's tokenizer, cut as ``--max-length`` cuts
    (the classifier's closing ``<eos>`` aside, so this reads one more word of a long review)."""
    from rnnkit.data.word_split import split_words
    from rnnkit.tasks.classify import text_baseline, truncate
    from rnnkit.tasks.io import read_labelled_file

    if not RUN["baselines"]:
        return None
    done = out / f"{name}_bag_of_words.json"
    if done.exists():
        return json.loads(done.read_text())
    tr = read_labelled_file(train)
    tr_X, (te_X, te_y) = list(tr.X), test_subset(test, test_size)
    if max_length is not None:
        tr_X, te_X = ([" ".join(truncate(split_words(str(t), "simple"), max_length)) for t in texts]
                      for texts in (tr_X, te_X))
    base = text_baseline(tr_X, tr.y, te_X, te_y)
    result = {**base, "test_accuracy": 100 * base["accuracy"], "test": len(te_X), "max_length": max_length}
    done.write_text(json.dumps(result, indent=1))
    return result


def sst2(out: Path, transfer_only: bool = False) -> dict:
    """SST-2: the language model fine-tuned on the training sentences (dev sentences to
    validate it), the classifier validated on dev, tested on test."""
    train, dev, test = SST / "stsa.binary.train", SST / "stsa.binary.dev", SST / "stsa.binary.test"
    lm = finetune(out, "sst2", train, dev, dict(epochs=8, batch_size=32, bptt=70))
    transfer = classify(out, "sst2_ulmfit", train, dev, test,
                        dict(encoder=lm["checkpoint"], precision=RUN["precision"]))
    if transfer_only:
        return {"language_model": lm, "ulmfit": transfer, "bag_of_words": bag_of_words(out, "sst2", train, test)}
    scratch = classify(out, "sst2_scratch", train, dev, test, dict(precision=RUN["precision"]))
    return {"language_model": lm, "ulmfit": transfer, "scratch": scratch,
            "bag_of_words": bag_of_words(out, "sst2", train, test)}


def untrained_copy(out: Path, checkpoint: str) -> str:
    """The language model of ``checkpoint`` (same architecture, vocabulary, tokenizer) with
    freshly initialised weights: the ablation "the recipe without pretraining"."""
    from rnnkit.tasks.lm import LanguageModeler

    path = out / "untrained_lm.safetensors"
    if not path.exists():
        lm = LanguageModeler.load(checkpoint)
        torch.manual_seed(0)
        lm.model_ = type(lm.model_)(lm.model_.config)
        lm.save(path)
    return str(path)


def imdb(out: Path, max_length: int | None, test_size: int, epochs: int = 3, bptt: int | None = None,
         transfer_only: bool = False) -> dict:
    """IMDb: the language model fine-tuned on the 25,000 training reviews' text (a budget of
    steps), the classifiers on them (a tenth held out, the best epoch kept; the transfer
    classifier ``epochs``, the others 3), tested on a fixed random ``test_size`` of the 25,000
    test reviews (the bag-of-words baseline on the same ones). ``max_length`` ``None`` reads
    whole reviews; ``bptt`` backpropagates the transfer classifier through each review's last
    that many tokens (BPT3C); ``transfer_only`` leaves out the from-scratch and untrained runs."""
    train, test = IMDB / "train.tsv.gz", IMDB / "test.tsv.gz"
    lm = finetune(out, "imdb", train, None, dict(epochs=1, max_steps=200, batch_size=64))
    length = "" if max_length == 128 else f"_len{max_length or 'all'}"  # the first runs' names, for 128
    name = ("" if epochs == 3 else f"_e{epochs}") + length + ("" if bptt is None else f"_bptt{bptt}")
    batch = {"batch_size": RUN["classify_batch_size"]} if RUN["classify_batch_size"] else {}
    name += f"_b{batch['batch_size']}" if batch else ""
    transfer = classify(out, f"imdb_ulmfit{name}", train, None, test,
                        dict(encoder=lm["checkpoint"], max_length=max_length, epochs=epochs, precision=RUN["precision"],
                             bptt=bptt, **batch), test_size)
    bow = bag_of_words(out, "imdb", train, test, test_size)
    if transfer_only:
        return {"language_model": lm, "ulmfit": transfer, "bag_of_words": bow, "max_length": max_length}
    # 3 epochs for these: the from-scratch model's validation loss was lowest after its first
    scratch = classify(out, f"imdb_scratch{length}", train, None, test,
                       dict(max_length=max_length, epochs=3, precision=RUN["precision"]), test_size)
    untrained = classify(out, f"imdb_untrained{length}", train, None, test,
                         dict(encoder=untrained_copy(out, lm["checkpoint"]), max_length=max_length, epochs=3,
                              precision=RUN["precision"]), test_size)
    same_tokens = (bag_of_words(out, f"imdb_{max_length}_tokens", train, test, test_size, max_length)
                   if max_length is not None else bow)
    return {"language_model": lm, "ulmfit": transfer, "scratch": scratch, "ulmfit_recipe_untrained": untrained,
            "bag_of_words": bow, "bag_of_words_same_tokens": same_tokens, "max_length": max_length}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="all", choices=("pretrain", "imdb", "sst2", "all"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/ulmfit"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tag", default="", help="store the results under 'IMDb TAG' etc. (another configuration)")
    parser.add_argument("--pretrain-steps", type=int, default=1200,
                        help="optimiser steps of pretraining (64 x 70 tokens each; 0: one epoch, about 2,860)")
    parser.add_argument("--max-length", type=int, default=128, help="IMDb: tokens kept per review (0: all)")
    parser.add_argument("--bptt", type=int, default=None,
                        help="IMDb: the transfer classifier backpropagates through each review's last BPTT tokens")
    parser.add_argument("--transfer-only", action="store_true",
                        help="IMDb: only the transfer classifier and the bag of words (no from-scratch run)")
    parser.add_argument("--epochs", type=int, default=3,
                        help="IMDb: the transfer classifier's epochs (the best kept; the others: 3)")
    parser.add_argument("--test-size", type=int, default=5000,
                        help="IMDb: test reviews scored (a fixed sample; 25000: all of them)")
    parser.add_argument("--data", type=Path, default=SHARED, help="the folder holding imdb/ and "
                        "sst-and-sentence-classification/ (default ../shared/data)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the JSON file the results go into")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--full-size", action="store_true",
                        help="pretrain the awd-lstm preset unnarrowed, in float32 (for a GPU)")
    parser.add_argument("--pretrain-time", type=float, default=None,
                        help="seconds of pretraining: the speed is measured first, the schedule spans the epochs "
                        "that fit (--pretrain-steps is then ignored)")
    parser.add_argument("--finetune-time", type=float, default=None,
                        help="fine-tune the language model for a whole epoch, stopped after this many seconds")
    parser.add_argument("--classify-time", type=float, default=None, help="each classifier's time budget (s)")
    parser.add_argument("--no-baselines", action="store_true", help="leave out the bag of words (run it on a CPU)")
    parser.add_argument("--pretrain-batch-size", type=int, default=None,
                        help="streams per pretraining step (default the preset's 64; a GPU's step time hardly grows "
                        "with it)")
    parser.add_argument("--classify-batch-size", type=int, default=None,
                        help="IMDb: the transfer classifier's batch (default its own, 32)")
    args = parser.parse_args()
    global IMDB, SST
    IMDB, SST = args.data / "imdb", args.data / "sst-and-sentence-classification"
    RUN.update(device=args.device, full_size=args.full_size, precision="fp32" if args.full_size else "bf16",
               pretrain_time=args.pretrain_time, finetune_time=args.finetune_time, classify_time=args.classify_time,
               baselines=not args.no_baselines, pretrain_batch_size=args.pretrain_batch_size,
               classify_batch_size=args.classify_batch_size)
    if args.device != "cpu" and torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")  # TF32 matrix products, as cuDNN's LSTM uses by default
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    stages = ("pretrain", "sst2", "imdb") if args.stage == "all" else (args.stage,)
    suffix = f" {args.tag}" if args.tag else ""
    for stage in stages:
        key = {"pretrain": "pretrain", "sst2": "SST-2", "imdb": "IMDb"}[stage] + suffix
        if stage == "pretrain":
            result = pretrain(args.out, args.pretrain_steps or None)
        elif stage == "sst2":
            result = sst2(args.out, args.transfer_only)
        else:
            result = imdb(args.out, args.max_length or None, args.test_size, args.epochs, args.bptt,
                          args.transfer_only)
        result = {k: v for k, v in result.items() if v is not None}  # a baseline not run
        print(key, json.dumps(result), flush=True)
        # read again just before writing: another stage may have run beside this one
        results = json.loads(args.results.read_text()) if args.results.exists() else {}
        results[key] = result
        results["load_average"] = list(os.getloadavg())
        results["threads"] = args.threads
        args.results.write_text(json.dumps(results, indent=1))
    print(table(results, suffix))


def table(results: dict, suffix: str = "") -> str:
    """The README's table: test accuracy (%) by data set and method ('-': not run)."""
    rows = ["| data | bag of words | bag of words, the classifiers' tokens | from scratch (BiLSTM) | "
            "ULMFiT recipe, untrained LM | ULMFiT (pretrained AWD-LSTM) |", "|---|---|---|---|---|---|"]

    def accuracy(r: dict, key: str) -> str:
        return f"{r[key]['test_accuracy']:.1f}" if key in r else "-"

    for name in ("IMDb" + suffix, "SST-2" + suffix):
        r = results.get(name)
        if r:
            cells = [accuracy(r, k) for k in ("bag_of_words", "bag_of_words_same_tokens", "scratch",
                                              "ulmfit_recipe_untrained", "ulmfit")]
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
