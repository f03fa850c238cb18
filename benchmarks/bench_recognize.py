"""Recognition with CTC: spoken digits (FSDD) and printed text lines.

Parts:

* ``digits``: utterances of 1-7 digits of one speaker, built from FSDD's training recordings
  (repetitions 5-49; ``rnnkit.data.connected_digits``), train a BiLSTM CTC recogniser on
  log-mel frames; tested on connected utterances (2-7 digits) built from the test recordings
  (repetitions 0-4, never heard in training): WER/CER, and on the 300 single test recordings:
  accuracy (the transcript is exactly the digit). Real-time factor of transcription on one
  core = seconds of compute per second of audio.
* ``lines``: lines of 2-5 random words of Tiny Shakespeare rendered with the installed fonts
  (``rnnkit.data.text_lines``: size jitter, slant, blur, noise), one font held out; a CRNN-style
  recogniser (2-D convolutional front end over the line image, 4 pixel columns per step, +
  BiLSTM) trained on the others, tested on lines in the held-out font: CER/WER.

Usage (data from ../shared/data):
    python benchmarks/bench_recognize.py --part all --threads 1     # writes results/recognize.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
RESULTS = HERE / "results" / "recognize.json"
PUBLISHED = {"digits": "FSDD single digits: CNN/LSTM classifiers ~97-99 % test accuracy",
             "lines": "goal: CER <= 2 % on an unseen font"}


def digit_features(samples: np.ndarray) -> np.ndarray:
    from rnnkit.data.audio import log_mel, normalise

    return normalise(log_mel(samples, 8000, n_mels=40), "level")


def digits(max_time: float, train_utterances: int, seed: int) -> dict:
    from rnnkit.data.audio import read_wav
    from rnnkit.data.connected_digits import connected_digits, fsdd_recordings
    from rnnkit.tasks.recognize import Recognizer

    folder = SHARED / "fsdd" / "recordings"
    rng = np.random.default_rng(seed)
    train_rec, test_rec = fsdd_recordings(folder, "train"), fsdd_recordings(folder, "test")
    # pauses from 0 s: some utterances start or end at a word, as the trimmed single recordings do
    train = connected_digits(train_rec, train_utterances, rng, min_digits=1, max_digits=7, pause=(0.0, 0.3))
    test = connected_digits(test_rec, 300, np.random.default_rng(seed + 1), min_digits=2, max_digits=7)
    X = [digit_features(x) for x, _ in train]
    y = [t for _, t in train]
    rec = Recognizer(hidden_size=128, num_layers=2, front_end="stack", subsample=2, spec_augment=True, epochs=60,
                     batch_size=32, lr=2e-3, max_time=max_time, early_stopping=8, seed=seed, verbose=True)
    start = time.perf_counter()
    rec.fit(X, y)
    fit_seconds = time.perf_counter() - start
    X_test = [digit_features(x) for x, _ in test]
    audio_seconds = sum(len(x) for x, _ in test) / 8000
    torch.set_num_threads(1)
    start = time.perf_counter()
    connected = rec.evaluate(X_test, [t for _, t in test])
    compute = time.perf_counter() - start
    singles = [(digit_features(read_wav(r.path)[0]), str(r.digit)) for r in test_rec]
    single_hyp = rec.transcribe([x for x, _ in singles])
    accuracy = float(np.mean([h == t for h, (_, t) in zip(single_hyp, singles)]))
    return {"train_utterances": len(train), "train_digits": sum(len(t.split()) for t in y),
            "test_utterances": len(test), "connected": connected, "single_digit_accuracy": 100 * accuracy,
            "single_digit_test": len(singles), "fit_seconds": fit_seconds,
            "epochs_run": sum(h["kind"] == "valid" for h in rec.history_),
            "real_time_factor_1_core": compute / audio_seconds, "audio_seconds": audio_seconds,
            "config": {k: v for k, v in rec.get_params().items() if k not in ("verbose", "run_dir")}}


def shakespeare_words() -> list[str]:
    text = (SHARED / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    words = sorted({w for w in re.findall(r"[A-Za-z][A-Za-z',.;:!?-]*", text) if len(w) <= 12})
    return words


def lines(max_time: float, train_lines: int, seed: int, held_out: str) -> dict:
    from rnnkit.data.recognition_files import image_frames
    from rnnkit.data.text_lines import random_text, render_line, system_fonts
    from rnnkit.tasks.recognize import Recognizer

    fonts = [f for f in system_fonts() if "MathTeX" not in f.name]
    test_fonts = [f for f in fonts if f.name == held_out]
    train_fonts = [f for f in fonts if f.name != held_out]
    if not test_fonts or not train_fonts:
        raise SystemExit(f"need the font {held_out} and others; installed: {[f.name for f in fonts]}")
    words = shakespeare_words()
    rng = np.random.default_rng(seed)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"rnnkit-lines-{os.getpid()}.png"

    def sample(font, n: int, r: np.random.Generator) -> tuple[list[np.ndarray], list[str]]:
        X, y = [], []
        for _ in range(n):
            text = random_text(words, r, 2, 5)
            chosen = font[int(r.integers(len(font)))] if isinstance(font, list) else font
            render_line(text, chosen, r).save(tmp)
            X.append(image_frames(tmp, 32))
            y.append(text)
        return X, y

    X, y = sample(train_fonts, train_lines, rng)
    X_test, y_test = sample(test_fonts[0], 500, np.random.default_rng(seed + 1))
    tmp.unlink(missing_ok=True)
    # characters of the test lines the training lines never showed cannot be written: reported
    unseen = sorted({c for t in y_test for c in t} - {c for t in y for c in t})
    rec = Recognizer(hidden_size=128, num_layers=2, front_end="conv2d", subsample=4, conv_channels=64, epochs=60,
                     batch_size=32, lr=2e-3, max_time=max_time, early_stopping=8, seed=seed, verbose=True)
    start = time.perf_counter()
    rec.fit(X, y)
    fit_seconds = time.perf_counter() - start
    keep = [i for i, t in enumerate(y_test) if not set(t) - set(rec.alphabet_)]
    torch.set_num_threads(1)
    start = time.perf_counter()
    result = rec.evaluate([X_test[i] for i in keep], [y_test[i] for i in keep])
    seconds = time.perf_counter() - start
    return {"train_lines": len(X), "train_fonts": [f.name for f in train_fonts], "test_font": held_out,
            "test_lines": len(keep), "unseen_characters": unseen, "unseen_font": result, "fit_seconds": fit_seconds,
            "epochs_run": sum(h["kind"] == "valid" for h in rec.history_),
            "lines_per_second_1_core": len(keep) / seconds,
            "config": {k: v for k, v in rec.get_params().items() if k not in ("verbose", "run_dir")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="all", choices=("digits", "lines", "all"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-time", type=float, default=1800.0, help="training budget per model (s)")
    parser.add_argument("--utterances", type=int, default=3000, help="connected-digit training utterances")
    parser.add_argument("--lines", type=int, default=8000, help="training lines")
    parser.add_argument("--held-out-font", default="DejaVuSerif-Italic.ttf")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for part in ("digits", "lines") if args.part == "all" else (args.part,):
        torch.set_num_threads(args.threads)
        if part == "digits":
            result = digits(args.max_time, args.utterances, args.seed)
        else:
            result = lines(args.max_time, args.lines, args.seed, args.held_out_font)
        result.update(threads=args.threads, load_average=list(os.getloadavg()), published=PUBLISHED[part])
        print(part, json.dumps({k: v for k, v in result.items() if k != "config"}), flush=True)
        # read again just before writing: the two parts may run side by side, each adding its own
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        results[part] = result
        RESULTS.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
