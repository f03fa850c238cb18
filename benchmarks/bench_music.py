"""JSB Chorales (quarter-note grid): test NLL per time step beside Chung et al. (2014).

Usage (data from ../shared/data/jsb-chorales; nothing is downloaded):
    python benchmarks/bench_music.py                    # lstm, gru, rnn_tanh with the default settings
    python benchmarks/bench_music.py --cells gru --hidden 256

The default settings are `rnnkit music train`'s: one recurrent layer of 128 units, Adam
3e-3, batches of 8 chorales, at most 100 epochs, early stopping on the validation NLL
(patience 10, best epoch kept). Writes benchmarks/results/music_jsb.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rnnkit.data.music import read_music
from rnnkit.tasks import music

HERE = Path(__file__).resolve().parent
JSB = HERE.parent.parent / "shared" / "data" / "jsb-chorales" / "jsb-chorales-quarter.json"
#: Chung, Gulcehre, Cho & Bengio (2014), Table 2: test NLL per step on JSB Chorales.
PUBLISHED = {"gru": 8.54, "lstm": 8.67, "rnn_tanh": 8.61}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=JSB)
    ap.add_argument("--cells", nargs="*", default=["lstm", "gru", "rnn_tanh"])
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "music_jsb.json")
    args = ap.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data} not found: the JSB chorales live in ../shared/data/jsb-chorales")
    splits = read_music(args.data)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for cell in args.cells:
        t0 = time.perf_counter()
        settings = music.MusicSettings(str(args.data), cell=cell, hidden_size=args.hidden, progress=False)
        with tempfile.TemporaryDirectory() as tmp:
            result = music.train(settings, tmp, splits=splits)
            model = music.load(result.best_checkpoint)
            test, valid = model.evaluate(splits["test"]), model.evaluate(splits["valid"])
        results[cell] = {"settings": settings.to_dict(), "test_nll": test["nll"],
                         "test_frame_accuracy": test["frame_accuracy"], "valid_nll": valid["nll"],
                         "epochs": result.epochs_completed, "stopped": result.stopped_because,
                         "seconds": time.perf_counter() - t0, "published_nll": PUBLISHED.get(cell)}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
        print(f"{cell}: test NLL {test['nll']:.3f} (published {PUBLISHED.get(cell)}), frame accuracy "
              f"{test['frame_accuracy']:.3f}, {time.perf_counter() - t0:.0f} s", flush=True)
    print("| cell | test NLL per step | Chung et al. 2014 | frame accuracy | epochs | wall time |")
    print("|---|---|---|---|---|---|")
    for cell, r in results.items():
        print(f"| {cell} | {r['test_nll']:.3f} | {r['published_nll']} | {r['test_frame_accuracy']:.3f} | "
              f"{r['epochs']} | {r['seconds']:.0f} s |")


if __name__ == "__main__":
    main()
