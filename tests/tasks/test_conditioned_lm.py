"""Conditioned generation: the model's state comes from the condition, the generator learns
p(sentence | label), and the CLI trains and generates from real temporary files."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli.main import app
from rnnkit.data.conditioned_text import read_conditioned_text
from rnnkit.data.sentences import BOS_ID, EOS_ID, SentenceCodec, detokenize, simple_tokens
from rnnkit.errors import CheckpointError, ConfigError, DataError
from rnnkit.models import ConditionedLM, ConditionedLMConfig
from rnnkit.tasks.conditioned_lm import ConditionedGenerator

runner = CliRunner()
POS = ["a great film", "a wonderful movie", "great acting and a fine story", "i loved it"]
NEG = ["a terrible film", "an awful movie", "bad acting and a dull story", "i hated it"]


def corpus(n=40):
    texts = [POS[i % 4] for i in range(n)] + [NEG[i % 4] for i in range(n)]
    return texts, ["pos"] * n + ["neg"] * n


def tiny_generator(**kw):
    params = dict(hidden_size=32, epochs=30, lr=1e-2, verbose=False, early_stopping=None,
                  validation_fraction=0, dropout=0.0, batch_size=16)
    return ConditionedGenerator(**{**params, **kw})


# ------------------------------------------------------------------ tokens


def test_simple_tokens_and_detokenize_round_trip():
    assert simple_tokens("a man's t-shirt, (red).") == ["a", "man's", "t-shirt", ",", "(", "red", ")", "."]
    assert detokenize(simple_tokens("A man's t-shirt, (red).")) == "A man's t-shirt, (red)."


def test_codec_specials_unknowns_and_persistence():
    codec = SentenceCodec.fit(["The cat sat.", "the dog sat."], min_freq=2)
    assert codec.vocab.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    ids = codec.encode("The bird sat.")
    assert ids.tolist() == [codec.vocab.stoi["the"], 1, codec.vocab.stoi["sat"], codec.vocab.stoi["."]]
    assert codec.decode([BOS_ID, *ids, 3, 4, 4]) == "the <unk> sat."  # stops at <eos>
    again = SentenceCodec.from_dict(codec.to_dict())
    assert again.encode("the cat") .tolist() == codec.encode("the cat").tolist()
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        SentenceCodec.fit(["a"], tokenizer="bpe")


def test_sentencepiece_codec_round_trip():
    pytest.importorskip("sentencepiece")
    lines = [f"the {w} sat on the mat number {i}" for i, w in enumerate(["cat", "dog", "bird"] * 30)]
    codec = SentenceCodec.fit(lines, tokenizer="sentencepiece", sp_vocab_size=40)
    again = SentenceCodec.from_dict(codec.to_dict())
    assert again.decode(again.encode("the dog sat on the mat")) == "the dog sat on the mat"


# ------------------------------------------------------------------ model


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_condition_sets_initial_state_and_step_equals_forward(cell):
    torch.manual_seed(0)
    model = ConditionedLM(ConditionedLMConfig(vocab_size=11, num_labels=3, cell=cell, hidden_size=8,
                                              num_layers=2, condition_size=5)).eval()
    ids = torch.randint(0, 11, (4, 6))
    cond = torch.tensor([0, 1, 2, 1])
    logits, _ = model(ids, cond)
    state, steps = None, []
    enc = model.encode_condition(cond)
    state = model.initial_state(enc)
    for t in range(6):
        out, state = model.step(ids[:, t], state, cond)
        steps.append(out)
    torch.testing.assert_close(torch.stack(steps, 1), logits, atol=1e-5, rtol=1e-5)
    # rows 1 and 3 share a condition and tokens only if made so: same condition -> same output
    ids[3] = ids[1]
    logits, _ = model(ids, cond)
    torch.testing.assert_close(logits[1], logits[3])
    assert not torch.allclose(logits[0], model(ids[:1], torch.tensor([2]))[0][0])


def test_condition_reaches_every_step_only_when_asked():
    torch.manual_seed(0)
    for every in (True, False):
        model = ConditionedLM(ConditionedLMConfig(vocab_size=7, feature_size=2, hidden_size=6,
                                                  condition_every_step=every)).eval()
        ids = torch.randint(0, 7, (1, 3))
        state = model.initial_state(model.encode_condition(torch.zeros(1, 2)))
        a, _ = model(ids, torch.zeros(1, 2), state=state)
        b, _ = model(ids, torch.ones(1, 2), state=state)  # same start, different condition
        assert torch.allclose(a, b) != every


def test_config_needs_exactly_one_kind_of_condition():
    with pytest.raises(ConfigError, match="exactly one"):
        ConditionedLMConfig(vocab_size=5)
    with pytest.raises(ConfigError, match="exactly one"):
        ConditionedLMConfig(vocab_size=5, num_labels=2, feature_size=3)


def test_float64_gradcheck():
    torch.manual_seed(0)
    model = ConditionedLM(ConditionedLMConfig(vocab_size=5, feature_size=2, hidden_size=3,
                                              condition_size=2, embedding_size=3)).double()
    ids = torch.randint(0, 5, (2, 3))
    feats = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f: model(ids, f)[0], (feats,))


# ------------------------------------------------------------------ estimator


def test_generator_learns_what_each_label_says(tmp_path):
    texts, labels = corpus()
    gen = tiny_generator().fit(texts, labels)
    pos = gen.generate("pos", n=20, temperature=0.5, seed=0)
    neg = gen.generate("neg", n=20, temperature=0.5, seed=0)
    assert sum(s in POS for s in pos) >= 18 and sum(s in NEG for s in neg) >= 18
    scores = gen.score(texts, labels)
    assert scores["ppl"] < 2.0
    # beside it the unigram baseline of the training targets (words and <eos>), by hand
    targets = [t for s in texts for t in [*gen.codec_.encode(s).tolist(), EOS_ID]]
    counts = np.bincount(targets, minlength=len(gen.codec_)) + 1.0
    assert np.isclose(scores["unigram_loss"], -np.mean(np.log(counts[targets] / counts.sum())))
    assert scores["loss"] < scores["unigram_loss"]
    path = gen.save(tmp_path / "gen.safetensors")
    again = ConditionedGenerator.load(path, device="auto")  # every estimator's load resolves "auto"
    assert again.generate("neg", n=3, temperature=0.0) == gen.generate("neg", n=3, temperature=0.0)
    assert again.unigram_valid_loss_ == gen.unigram_valid_loss_ and again.score(texts, labels) == scores
    with pytest.raises(DataError, match="not seen in training"):
        gen.generate("meh")


def test_generator_on_feature_vectors():
    texts, labels = corpus()
    feats = np.array([[1.0, 0.0] if y == "pos" else [0.0, 1.0] for y in labels])
    gen = tiny_generator(cell="gru").fit(texts, feats)
    assert sum(s in POS for s in gen.generate([1, 0], n=10, temperature=0.5, seed=1)) >= 9
    with pytest.raises(DataError, match="2 features"):
        gen.generate([1, 0, 0])


def test_generator_bad_input():
    with pytest.raises(DataError, match="2 sentences but 1"):
        tiny_generator().fit(["a", "b"], ["x"])
    with pytest.raises(RuntimeError, match="not fitted"):
        tiny_generator().generate("x")


# ------------------------------------------------------------------ reader


def test_reader_tables_and_label_first_lines(tmp_path):
    sst = tmp_path / "sst.txt"
    sst.write_text("1 a fine film\n0 a dull film\n", encoding="utf-8")
    data = read_conditioned_text(sst)
    assert data.texts == ["a fine film", "a dull film"] and data.labels == ["1", "0"]
    table = tmp_path / "t.tsv"
    table.write_text("mood\ttext\nhappy\tyes !\nsad\tno .\n", encoding="utf-8")
    assert read_conditioned_text(table, "mood").labels == ["happy", "sad"]
    csv = tmp_path / "f.csv"
    csv.write_text("text,a,b\nhi,1,2\nbye,3,x\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 3: column 'b' is not a number"):
        read_conditioned_text(csv, None, feature_cols=["a", "b"])
    with pytest.raises(DataError, match="no column 'mood'"):
        read_conditioned_text(csv, "mood")
    csv.write_text("text,label\n,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 2: the 'text' column is empty"):
        read_conditioned_text(csv)


# ------------------------------------------------------------------ CLI


def test_cli_train_and_generate_conditioned(tmp_path):
    texts, labels = corpus(30)
    data = tmp_path / "reviews.csv"
    data.write_text("label,text\n" + "".join(f"{y},{t}\n" for t, y in zip(texts, labels)), encoding="utf-8")
    out = tmp_path / "run"
    r = runner.invoke(app, ["lm", "train", "--condition-col", "label", str(data), "--hidden", "32", "--layers", "1",
                            "--epochs", "25", "--lr", "0.01", "--dropout", "0", "--batch-size", "16", "-q",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "best validation loss" in r.output and (out / "model.safetensors").exists()
    assert "baseline: a unigram model of the training sentences' words" in " ".join(r.output.split())
    r = runner.invoke(app, ["lm", "generate", str(out / "model.safetensors"), "--condition", "neg", "-s", "5",
                            "-t", "0.3", "--seed", "0"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 5 and sum(line in NEG for line in lines) >= 4
    r = runner.invoke(app, ["lm", "generate", str(out / "model.safetensors"), "--condition", "meh"])
    assert r.exit_code == 2 and "unknown condition 'meh'" in r.output
    r = runner.invoke(app, ["lm", "train", "--condition-col", "label", str(data), "--out", str(out), "-q"])
    assert r.exit_code == 2 and "already holds a training run" in r.output
    r = runner.invoke(app, ["lm", "train", "--condition-col", "label", "--bptt", "5", str(data), "-q",
                            "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "stream language models" in r.output


def test_cli_generate_condition_on_plain_lm_is_an_error(tmp_path):
    text = tmp_path / "c.txt"
    text.write_text("hello world\n" * 40, encoding="utf-8")
    out = tmp_path / "lm"
    r = runner.invoke(app, ["lm", "train", str(text), "--hidden", "8", "--layers", "1", "--bptt", "8",
                            "--batch-size", "2", "--epochs", "1", "-q", "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["lm", "generate", str(out / "best.safetensors"), "--condition", "x"])
    assert r.exit_code == 2 and "plain language model" in r.output
    with pytest.raises(CheckpointError):
        ConditionedGenerator.load(out / "best.safetensors")


@pytest.mark.slow
def test_cli_on_sst2(shared_data, tmp_path):
    root = shared_data / "sst-and-sentence-classification"
    if not (root / "stsa.binary.train").exists():
        pytest.skip("SST-2 files are not under ../shared/data")
    out = tmp_path / "run"
    r = runner.invoke(app, ["lm", "train", "--condition-col", "label", str(root / "stsa.binary.train"), "--valid",
                            str(root / "stsa.binary.dev"), "--tokenizer", "whitespace", "--hidden", "64",
                            "--epochs", "1", "-q", "--out", str(out), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["lm", "generate", str(out / "model.safetensors"), "--condition", "1", "-s", "3"])
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) == 3
