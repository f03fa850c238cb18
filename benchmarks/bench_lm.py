"""Reproduce published language-modelling results with rnnkit's presets.

Usage (data from ../shared/data; nothing is downloaded):
    python benchmarks/bench_lm.py zaremba-small                       # PTB, 13 epochs
    python benchmarks/bench_lm.py zaremba-medium --max-time 3600      # PTB, as many epochs as fit
    python benchmarks/bench_lm.py char-rnn-small --epochs 10          # Tiny Shakespeare 90/5/5
    python benchmarks/bench_lm.py char-rnn --epochs 3

Writes benchmarks/results/lm_<preset>.json (valid/test loss, perplexity, bits per token,
wall time, seconds per epoch) and prints a one-line summary. The run folder is
benchmarks/runs/<preset>; ``--resume`` continues it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from rnnkit.data import load_corpus
from rnnkit.evaluation import bits_per_token, perplexity
from rnnkit.tasks import lm

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
PUBLISHED = {
    "zaremba-small": "test ppl 114.5 (Zaremba et al. 2014); TF reproduction valid 121.4 / test 115.9",
    "zaremba-medium": "test ppl 82.7 after 39 epochs (Zaremba et al. 2014)",
    "zaremba-large": "test ppl 78.4 after 55 epochs (Zaremba et al. 2014)",
    "char-rnn-small": "char-rnn README example: validation 1.395 nats/char (its own split)",
    "char-rnn": "no published RNN number on this split",
}


def data_args(preset: str, data: Path | None) -> dict:
    if preset.startswith("zaremba"):
        root = data or SHARED / "ptb"
        return dict(train_files=[str(root / "ptb.train.txt")], valid_file=str(root / "ptb.valid.txt"),
                    test_file=str(root / "ptb.test.txt"))
    path = data or SHARED / "tinyshakespeare" / "input.txt"
    return dict(train_files=[str(path)])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("preset", choices=sorted(lm.PRESETS))
    ap.add_argument("--data", type=Path, help="dataset folder (PTB) or text file (char presets)")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--max-time", type=float, help="seconds of training before stopping")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--progress", action="store_true", help="show the progress bar")
    args = ap.parse_args(argv)
    settings = lm.LMSettings.from_preset(args.preset, epochs=args.epochs, max_time=args.max_time,
                                         progress=args.progress, sample_every=0.0, checkpoint_every=500,
                                         device="cpu", **data_args(args.preset, args.data))
    run_dir = HERE / "runs" / args.preset
    out_path = HERE / "results" / f"lm_{args.preset}.json"
    # a resumed run adds its time to the time already spent (recorded by the earlier part)
    resumed = args.resume and out_path.exists()
    previous = json.loads(out_path.read_text()).get("train_wall_seconds", 0.0) if resumed else 0.0
    start = time.time()
    result = lm.train(settings, run_dir, resume=args.resume, overwrite=not args.resume)
    wall = previous + time.time() - start
    model = lm.load(result.best_checkpoint)
    corpus = load_corpus(settings.train_files, settings.valid_file, settings.test_file, settings.level,
                         settings.split)
    scores = {}
    for split in ("valid", "test"):
        loss, n = lm.stream_loss(model.model_, getattr(corpus, split), settings.eval_batch_size, settings.bptt,
                                 torch.device("cpu"))
        scores[split] = {"loss_nats": loss, "perplexity": perplexity(loss), "bits_per_token": bits_per_token(loss),
                         "tokens": n}
    epochs_run = result.global_step / max(1, len(lm.StreamBatches(corpus.train, settings.batch_size, settings.bptt)))
    out = {
        "preset": args.preset, "settings": settings.to_dict(), "published": PUBLISHED.get(args.preset),
        "epochs_run": round(epochs_run, 3), "stopped_because": result.stopped_because,
        "train_wall_seconds": wall, "seconds_per_epoch": wall / max(epochs_run, 1e-9),
        "threads": torch.get_num_threads(), "torch": torch.__version__, **scores,
    }
    out_path.parent.mkdir(exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2))
    v, t = scores["valid"], scores["test"]
    print(f"{args.preset}: {epochs_run:.2f} epochs in {wall / 60:.1f} min "
          f"({out['seconds_per_epoch']:.0f} s/epoch); valid loss {v['loss_nats']:.4f} ppl {v['perplexity']:.2f} "
          f"bpt {v['bits_per_token']:.3f}; test loss {t['loss_nats']:.4f} ppl {t['perplexity']:.2f} "
          f"bpt {t['bits_per_token']:.3f}   [published: {PUBLISHED.get(args.preset)}]")
    return out


if __name__ == "__main__":
    main()
