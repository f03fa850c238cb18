"""The bag-of-words baseline that `rnnkit classify train` prints beside text classifiers, on
SST-2 and IMDb (the numbers a recurrent model has to beat).

Usage (data from ../shared/data; needs scikit-learn, the ``baselines`` extra):
    python benchmarks/bench_text_baseline.py            # writes results/text_baseline.json

SST-2: stsa.binary.train (6,920 sentences) -> stsa.binary.test (1,821); IMDb: the 25,000
labelled training reviews -> the 25,000 test reviews. TF-IDF over word 1-2 grams + logistic
regression, C chosen by 5-fold cross-validation on the training texts (see
``rnnkit.evaluation.text_baseline``).
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from rnnkit.evaluation.text_baseline import bag_of_words_baseline
from rnnkit.tasks.io import read_labelled_file

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
PUBLISHED = {"SST-2": "bag-of-words NB/SVM ~80-82 % (Socher et al. 2013: NB 81.8, SVM 79.4)",
             "IMDb": "NB-SVM bigrams 91.2 % (Wang & Manning 2012); ULMFiT 95.4 %"}


def imdb(split: str) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    with gzip.open(SHARED / "imdb" / f"{split}.tsv.gz", "rt", encoding="utf-8") as f:
        for line in f:
            label, _, text = line.rstrip("\n").partition("\t")
            labels.append(label)
            texts.append(text.replace("<br />", " "))
    return texts, labels


def main() -> None:
    sst = SHARED / "sst-and-sentence-classification"
    train, test = read_labelled_file(sst / "stsa.binary.train"), read_labelled_file(sst / "stsa.binary.test")
    rows = {"SST-2": bag_of_words_baseline(train.X, train.y, test.X, test.y)}
    print("SST-2", rows["SST-2"], flush=True)
    rows["IMDb"] = bag_of_words_baseline(*imdb("train"), *imdb("test"))
    print("IMDb", rows["IMDb"], flush=True)
    out = {name: {**r, "published": PUBLISHED[name]} for name, r in rows.items()}
    out["load_average"] = list(os.getloadavg())
    (HERE / "results" / "text_baseline.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
