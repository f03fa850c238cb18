"""``rnnkit classify`` and ``rnnkit tag`` on real temporary files, and their bad-input errors."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnkit.cli.main import app

runner = CliRunner()
TINY = ["--hidden", "8", "--epochs", "4", "--batch-size", "8", "--lr", "0.01", "--quiet", "--device", "cpu"]


def write_ucr(path, n, seed):
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = i % 2
        length = rng.integers(10, 16)
        values = np.cumsum(rng.normal(0.4 if label else -0.4, 0.3, length))
        padded = list(values) + [np.nan] * (16 - length)
        lines.append("\t".join([str(label + 1)] + [f"{v:.4f}" if np.isfinite(v) else "NaN" for v in padded]))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_ts(path, n, seed):
    rng = np.random.default_rng(seed)
    rows = ["@problemName toy", "@timeStamps false", "@univariate false", "@dimensions 2",
            "@equalLength false", "@classLabel true a b", "@data"]
    for i in range(n):
        label = "ab"[i % 2]
        length = rng.integers(6, 10)
        dims = [rng.normal(1.0 if label == "a" else -1.0, 0.5, length) for _ in range(2)]
        rows.append(":".join(",".join(f"{v:.3f}" for v in d) for d in dims) + f":{label}")
    path.write_text("\n".join(rows) + "\n")
    return path


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def ucr(tmp_path):
    return write_ucr(tmp_path / "Toy_TRAIN.tsv", 40, 0), write_ucr(tmp_path / "Toy_TEST.tsv", 20, 1)


def test_classify_ucr_train_test_predict(tmp_path, ucr):
    out = tmp_path / "run"
    r = run("classify", "train", "--train", ucr[0], "--test", ucr[1], "--out", out, *TINY)
    assert r.exit_code == 0, r.output
    assert "accuracy" in r.output and "per class" in r.output
    for name in ("model.safetensors", "best.safetensors", "test_predictions.csv", "test_report.json",
                 "test_confusion.png", "metrics.jsonl"):
        assert (out / name).exists(), name
    report = json.loads((out / "test_report.json").read_text())
    assert report["n"] == 20 and len(report["confusion_matrix"]) == 2
    rows = list(csv.DictReader(open(out / "test_predictions.csv")))
    assert len(rows) == 20 and set(rows[0]) == {"index", "label", "predicted", "p_1", "p_2"}
    assert abs(float(rows[0]["p_1"]) + float(rows[0]["p_2"]) - 1) < 1e-4

    preds = tmp_path / "preds.csv"
    r = run("classify", "predict", out / "model.safetensors", ucr[1], "--output", preds)
    assert r.exit_code == 0, r.output
    again = list(csv.DictReader(open(preds)))
    assert [x["predicted"] for x in again] == [x["predicted"] for x in rows]

    r = run("classify", "train", "--train", ucr[0], "--out", out, *TINY)
    assert r.exit_code == 2 and "already holds a training run" in r.output


def test_classify_ts_and_csv_and_text(tmp_path):
    train, test = write_ts(tmp_path / "a_TRAIN.ts", 30, 0), write_ts(tmp_path / "a_TEST.ts", 10, 1)
    r = run("classify", "train", "--train", train, "--test", test, "--out", tmp_path / "ts", "--conv-branch", *TINY)
    assert r.exit_code == 0, r.output
    # beside the series model's test score: the 1-NN Euclidean baseline on the same split, and its verdict
    text = " ".join(r.output.split())
    assert "baseline: 1-NN Euclidean (channels standardised on the training set)" in text  # two channels
    report = json.loads((tmp_path / "ts" / "test_report.json").read_text())
    verdict = ("the model beats it" if report["accuracy"] > report["baseline"]["accuracy"] else "the model only ties it"
               if report["accuracy"] == report["baseline"]["accuracy"] else "WARNING the model does not beat")
    assert verdict in text and report["baseline"]["n"] == 10

    long_csv = tmp_path / "long.csv"
    rng = np.random.default_rng(0)
    lines = ["id,step,x,label"] + [f"s{i},{t},{rng.normal(i % 2, 0.3):.3f},{'hi' if i % 2 else 'lo'}"
                                   for i in range(30) for t in range(5)]
    long_csv.write_text("\n".join(lines) + "\n")
    r = run("classify", "train", "--train", long_csv, "--id-column", "id", "--time-column", "step",
            "--out", tmp_path / "csv", *TINY)
    assert r.exit_code == 0, r.output

    text = tmp_path / "sst.train"
    text.write_text("".join(f"{i % 2} {'a great film' if i % 2 else 'a dull film'} {i}\n" for i in range(40)))
    r = run("classify", "train", "--train", text, "--out", tmp_path / "text", "--char-features", *TINY)
    assert r.exit_code == 0, r.output
    sentences = tmp_path / "new.txt"
    sentences.write_text("a great film\na dull film\n")
    r = run("classify", "predict", tmp_path / "text" / "model.safetensors", sentences, "--no-labels",
            "--output", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert len(rows) == 2 and "label" not in rows[0]
    # without --no-labels too: no line starts or ends with a class (0, 1), so each is a text, whole,
    # predicted and not scored (its first word is not taken for a label)
    sentences.write_text("great film , a great film\ndull and a dull film\nthe film 1 was great\n")
    r = run("classify", "predict", tmp_path / "text" / "model.safetensors", sentences, "--output", tmp_path / "q.csv")
    assert r.exit_code == 0, r.output
    assert "read as unlabelled" in " ".join(r.output.split()) and "accuracy" not in r.output
    assert len(list(csv.DictReader(open(tmp_path / "q.csv")))) == 3
    # lines that start with a class it knows are labelled there, and scored
    sentences.write_text("1 a great film\n0 a dull film\n1 great film\n")
    r = run("classify", "predict", tmp_path / "text" / "model.safetensors", sentences, "--output", tmp_path / "r.csv")
    assert r.exit_code == 0, r.output
    assert "the first field of each line" in " ".join(r.output.split()) and "accuracy" in r.output
    assert [row["label"] for row in csv.DictReader(open(tmp_path / "r.csv"))] == ["1", "0", "1"]


CONLLU = """# sent_id = 1
1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_
2\tcat\tcat\tNOUN\tNN\t_\t3\tnsubj\t_\t_
3-4\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
3\tdo\tdo\tAUX\tVBP\t_\t5\taux\t_\t_
4\tn't\tnot\tPART\tRB\t_\t5\tadvmod\t_\t_
5\trun\trun\tVERB\tVB\t_\t0\troot\t_\t_
5.1\tx\tx\tX\tX\t_\t_\t_\t_\t_

1\tA\ta\tDET\tDT\t_\t2\tdet\t_\t_
2\tdog\tdog\tNOUN\tNN\t_\t3\tnsubj\t_\t_
3\truns\trun\tVERB\tVBZ\t_\t0\troot\t_\t_

"""


def test_tag_train_and_predict(tmp_path):
    data = tmp_path / "toy.conllu"
    data.write_text(CONLLU * 10)
    out = tmp_path / "tag"
    r = run("tag", "train", "--train", data, "--test", data, "--out", out, "--layers", "1", *TINY)
    assert r.exit_code == 0, r.output
    report = json.loads((out / "test_report.json").read_text())
    assert report["n"] == 80 and set(report["classes"]) == {"AUX", "DET", "NOUN", "PART", "VERB"}
    # beside it the most-frequent-tag baseline: every word here has one tag, so it is always right
    assert report["baseline"]["accuracy"] == 1.0 and report["baseline"]["n"] == 80
    assert "baseline: most frequent tag per word" in " ".join(r.output.split())
    lines = (out / "test_predictions.tsv").read_text().split("\n\n")[0].splitlines()
    assert [x.split("\t")[0] for x in lines] == ["The", "cat", "do", "n't", "run"]

    plain = tmp_path / "new.txt"
    plain.write_text("The dog runs\nA cat\n")
    r = run("tag", "predict", out / "model.safetensors", plain, "--output", tmp_path / "tagged.tsv")
    assert r.exit_code == 0, r.output
    tagged = (tmp_path / "tagged.tsv").read_text().strip().split("\n\n")
    assert [len(s.splitlines()) for s in tagged] == [3, 2]


@pytest.mark.parametrize("make, args, message", [
    (lambda p: None, ["classify", "train", "--train", "{d}/missing.tsv"], "file not found"),
    (lambda p: (p / "e.tsv").write_text(""), ["classify", "train", "--train", "{d}/e.tsv"], "empty"),
    (lambda p: (p / "b.tsv").write_bytes(b"1\t\xff\xfe\n"), ["classify", "train", "--train", "{d}/b.tsv"], "UTF-8"),
    (lambda p: (p / "n.csv").write_text("label,t0\na,x\n"), ["classify", "train", "--train", "{d}/n.csv"],
     "non-numeric value 'x'"),
    (lambda p: (p / "nan.csv").write_text("label,t0\na,NaN\nb,nan\n"), ["classify", "train", "--train", "{d}/nan.csv"],
     "no values"),
    (lambda p: (p / "c.safetensors").write_bytes(b"not a checkpoint"),
     ["classify", "predict", "{d}/c.safetensors", "{d}/c.safetensors"], "checkpoint"),
    (lambda p: (p / "x.conllu").write_text("1\tonly\tthree\n"), ["tag", "train", "--train", "{d}/x.conllu"],
     "10 tab-separated columns"),
    (lambda p: write_ucr(p / "u.tsv", 10, 0), ["classify", "train", "--train", "{d}/u.tsv", "--format", "xls"],
     "unknown format"),
    (lambda p: write_ucr(p / "u.tsv", 10, 0), ["classify", "train", "--train", "{d}/u.tsv", "--pooling", "sum",
                                               "--epochs", "1"], "unknown pooling"),
    (lambda p: write_ucr(p / "u.tsv", 10, 0), ["classify", "train", "--train", "{d}/u.tsv", "--class-weight", "heavy",
                                               "--epochs", "1"], "class_weight must be None or 'balanced'"),
    (lambda p: None, ["inspect", "gradients", "--probes", "0"], "must be >= 1, got 0"),
])
def test_bad_input_is_one_line_error(tmp_path, make, args, message):
    make(tmp_path)
    r = run(*[a.format(d=tmp_path) for a in args])
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


def test_classify_resume_continues_the_run_and_info_reads_the_model(tmp_path, ucr):
    out = tmp_path / "run"
    base = [a for a in TINY if a not in ("--epochs", "4")]
    r = run("classify", "train", "--train", ucr[0], "--out", out, "--epochs", "2", *base)
    assert r.exit_code == 0, r.output
    r = run("classify", "train", "--train", ucr[0], "--out", out, "--epochs", "4", "--resume", *base)
    assert r.exit_code == 0, r.output
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["kind"] == "valid"] == [1, 2, 3, 4]
    r = run("info", out / "model.safetensors")
    assert r.exit_code == 0 and "classify" in r.output and "SequenceClassifier" in r.output


def test_test_labels_never_seen_and_training_without_held_out_data(tmp_path, ucr):
    unseen = tmp_path / "Other_TEST.tsv"
    unseen.write_text("".join("7\t" + line.split("\t", 1)[1] for line in Path(ucr[1]).read_text().splitlines(True)))
    r = run("classify", "train", "--train", ucr[0], "--test", unseen, "--out", tmp_path / "a", *TINY)
    assert r.exit_code != 0 and "none of the 20 labels was seen in training" in " ".join(r.output.split())
    loud = [a for a in TINY if a != "--quiet"]
    r = run("classify", "train", "--train", ucr[0], "--validation-fraction", "0", "--out", tmp_path / "b", *loud)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "training-data (no held-out data)" in text and "best training loss" in text and ": valid " not in text


def test_text_classification_prints_the_bag_of_words_baseline(tmp_path):
    pytest.importorskip("sklearn")
    good, bad = ["great", "fine", "superb", "lovely"], ["dull", "awful", "boring", "poor"]

    def write(path, n, seed):
        r = np.random.default_rng(seed)
        rows = []
        for i in range(n):
            words = list(r.choice(good if i % 2 else bad, 2)) + list(r.choice(["a", "film", "plot", "the"], 3))
            r.shuffle(words)
            rows.append(f"{'pos' if i % 2 else 'neg'}\t{' '.join(words)}\n")
        path.write_text("".join(rows))
        return path

    train, test = write(tmp_path / "train.tsv", 60, 0), write(tmp_path / "test.tsv", 20, 1)
    out = tmp_path / "run"
    r = run("classify", "train", "--train", train, "--test", test, "--out", out, *TINY)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "baseline: TF-IDF (word 1-2 grams) + logistic regression" in text and "test accuracy 100.00%" in text
    report = json.loads((out / "test_report.json").read_text())
    assert report["baseline"]["accuracy"] == 1.0  # the words decide the class: the linear model gets it all
    assert report["baseline"]["model_beats_baseline"] == (report["accuracy"] > 1.0)
