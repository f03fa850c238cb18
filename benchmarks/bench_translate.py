"""Multi30k (WMT16 multimodal task 1, text only): an attentional LSTM encoder-decoder.

Usage (data from ../shared/data/multi30k; nothing is downloaded):
    python benchmarks/bench_translate.py --pair en-de                   # word-level, the default configuration
    python benchmarks/bench_translate.py --pair en-fr
    python benchmarks/bench_translate.py --pair en-de --tokenizer sentencepiece --sp-vocab 8000
    python benchmarks/bench_translate.py --pair en-de --device cuda     # same configuration on a GPU
    python benchmarks/bench_translate.py --pair en-de --baseline-only   # add the baseline to saved results

Trains on the raw (cased, untokenised) ``train.{src,tgt}.gz`` (29,000 pairs) through
rnnkit's own tokeniser (lowercased words and punctuation), keeps the epoch with the best
loss on ``val`` (1,014), and reports test_2016_flickr (1,000) BLEU and chrF with
sacrebleu on the detokenised output against the raw references, case-insensitive (the
shared-task numbers are for lowercased text), with greedy search and beam 5, beside the
word-for-word baseline that ``translate train`` prints (an IBM Model 1 dictionary learnt from
the training pairs, in the model's vocabularies).
Writes benchmarks/results/translate_multi30k_<pair>[_<tokenizer>].json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from rnnkit.data.parallel import read_aligned
from rnnkit.data.sentences import SentenceCodec
from rnnkit.tasks.translate import Translator, word_for_word_baseline

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "multi30k"

CONFIG = dict(tokenizer="simple", lowercase=True, min_freq=2, max_length=50, cell="lstm", hidden_size=512,
              num_layers=2, embedding_size=256, attention="general", input_feeding=True, dropout=0.4,
              label_smoothing=0.1, batch_size=64, epochs=20, lr=1e-3, clip=5.0, early_stopping=4,
              beam_size=5, length_penalty=0.6, max_length_ratio=1.5)
PUBLISHED = ("text-only attentive recurrent NMT on test_2016_flickr en-de: mid-to-high 30s BLEU "
             "(WMT16-18 multimodal shared-task reports, lowercased tokenised text)")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", default="en-de", help="source-target, e.g. en-de, en-fr, de-en")
    ap.add_argument("--data", type=Path, default=SHARED / "raw")
    ap.add_argument("--tokenizer", default=CONFIG["tokenizer"])
    ap.add_argument("--sp-vocab", type=int, default=8000)
    ap.add_argument("--hidden", type=int, default=CONFIG["hidden_size"])
    ap.add_argument("--layers", type=int, default=CONFIG["num_layers"])
    ap.add_argument("--attention", default=CONFIG["attention"])
    ap.add_argument("--epochs", type=int, default=CONFIG["epochs"])
    ap.add_argument("--max-time", type=float, help="seconds of training before stopping")
    ap.add_argument("--train-limit", type=int, help="use only the first N training pairs (smoke tests)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--run-dir", type=Path, help="keep the run (checkpoints, metrics) here")
    ap.add_argument("--no-json", action="store_true", help="print only; leave results/*.json as they are")
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--baseline-only", action="store_true",
                    help="train nothing: add the word-for-word baseline to this pair's saved results")
    args = ap.parse_args(argv)
    s, t = args.pair.split("-")
    train_src, train_tgt = read_aligned(args.data / f"train.{s}.gz", args.data / f"train.{t}.gz")
    if args.train_limit:
        train_src, train_tgt = train_src[: args.train_limit], train_tgt[: args.train_limit]
    val_src, val_tgt = read_aligned(args.data / f"val.{s}.gz", args.data / f"val.{t}.gz")
    test_src, test_tgt = read_aligned(args.data / f"test_2016_flickr.{s}.gz", args.data / f"test_2016_flickr.{t}.gz")

    suffix = "" if args.tokenizer == "simple" else f"_{args.tokenizer}"
    out = HERE / "results" / f"translate_multi30k_{args.pair}{suffix}.json"
    if args.baseline_only:  # deterministic, from the data alone: the saved model results stay as they are
        codecs = [SentenceCodec.fit(side, args.tokenizer, CONFIG["lowercase"], CONFIG["min_freq"],
                                    sp_vocab_size=args.sp_vocab) for side in (train_src, train_tgt)]
        saved = json.loads(out.read_text())
        saved["baseline"] = baseline(*codecs, train_src, train_tgt, test_src, test_tgt)
        out.write_text(json.dumps(saved, indent=1))
        print(f"{args.pair} baseline: {saved['baseline']}")
        return saved
    params = dict(CONFIG, tokenizer=args.tokenizer, sp_vocab_size=args.sp_vocab, hidden_size=args.hidden,
                  num_layers=args.layers, attention=args.attention, epochs=args.epochs, max_time=args.max_time,
                  seed=args.seed, device=args.device, verbose=args.progress,
                  run_dir=str(args.run_dir) if args.run_dir else None)
    t0 = time.perf_counter()
    model = Translator(**params).fit(train_src, train_tgt, val_src, val_tgt)
    fit_s = time.perf_counter() - t0
    curve = [{"epoch": r["epoch"], "valid_loss": r["loss"], "valid_ppl": r.get("ppl")}
             for r in model.history_ if r["kind"] == "valid"]
    result = {"task": f"multi30k-{args.pair}", "params": params, "train_pairs": model.n_train_pairs_,
              "vocab": [len(model.src_codec_), len(model.tgt_codec_)], "fit_seconds": fit_s,
              "stopped": model.stopped_because_, "curve": curve, "published": PUBLISHED,
              "test_ppl": model.score(test_src, test_tgt)["ppl"]}
    for name, beam in (("greedy", 1), ("beam5", 5)):
        t0 = time.perf_counter()
        scores = model.evaluate(test_src, test_tgt, beam_size=beam)
        result[name] = {"bleu": scores["bleu"], "chrf": scores["chrf"], "seconds": time.perf_counter() - t0,
                        "signature": scores["bleu_signature"], "examples": [
                            {"src": test_src[i], "ref": test_tgt[i], "hyp": scores["translations"][i]}
                            for i in range(5)]}
        print(f"{args.pair} {name}: BLEU {scores['bleu']:.2f} chrF {scores['chrf']:.2f}")
    result["baseline"] = baseline(model.src_codec_, model.tgt_codec_, train_src, train_tgt, test_src, test_tgt)
    result.update(torch=torch.__version__, threads=torch.get_num_threads(),
                  device=torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
                  command="python benchmarks/bench_translate.py " + " ".join(sys.argv[1:] if argv is None else argv))
    if not (args.train_limit or args.no_json):
        out.write_text(json.dumps(result, indent=1))
    print(f"{args.pair}: {len(curve)} epochs in {fit_s:.0f} s ({model.stopped_because_}); test perplexity "
          f"{result['test_ppl']:.2f}; greedy BLEU {result['greedy']['bleu']:.2f}, beam-5 BLEU "
          f"{result['beam5']['bleu']:.2f}; published: {PUBLISHED}")
    return result


def baseline(src_codec: SentenceCodec, tgt_codec: SentenceCodec, *data) -> dict:
    """The word-for-word baseline's test BLEU and chrF (JSON-able, without its translations)."""
    scores = word_for_word_baseline(src_codec, tgt_codec, CONFIG["lowercase"], *data)
    return {"name": scores["name"], "bleu": scores["bleu"], "chrf": scores["chrf"],
            "signature": scores["bleu_signature"], "vocab": [len(src_codec), len(tgt_codec)]}


if __name__ == "__main__":
    main()
