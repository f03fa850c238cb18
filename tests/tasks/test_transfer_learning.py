"""Transfer learning for text (ULMFiT): raw-text language models, fine-tuning from a
pretrained model, the classifier on its encoder, and the training recipe (slanted triangular
rates, discriminative rates, gradual unfreezing)."""

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli.main import app
from rnnkit.data import Vocab, load_corpus
from rnnkit.data.text import encode_text
from rnnkit.data.text_column import read_text_column, text_column_file
from rnnkit.data.word_split import split_words
from rnnkit.errors import ConfigError, DataError
from rnnkit.layers.pooling import valid_mask
from rnnkit.models import LanguageModel, LanguageModelConfig, LMClassifier, LMClassifierConfig
from rnnkit.models.language_model import remap_vocabulary
from rnnkit.tasks.classify import RNNClassifier, truncate
from rnnkit.tasks.lm import LanguageModeler, LMSettings, _task
from rnnkit.training.optim import (
    OptimConfig,
    param_groups,
    slanted_triangular,
    unfreeze_stage_steps,
    unfreeze_top,
    unfrozen_groups,
)

runner = CliRunner()

POSITIVE = ["great", "wonderful", "superb", "moving", "brilliant"]
NEGATIVE = ["awful", "boring", "dull", "terrible", "clumsy"]
FILLER = "the film was a story about people and it had some scenes with music".split()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))


def review(rng: np.random.Generator, label: int) -> str:
    words = list(rng.choice(FILLER, 10))
    words.insert(int(rng.integers(0, 10)), str(rng.choice(POSITIVE if label else NEGATIVE)))
    return " ".join(words).capitalize() + "!"


@pytest.fixture(scope="module")
def reviews():
    rng = np.random.default_rng(0)
    labels = [i % 2 for i in range(160)]
    return [review(rng, y) for y in labels], labels


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, reviews):
    """A small word LM on unlabelled 'reviews' (raw text, the simple tokenizer)."""
    folder = tmp_path_factory.mktemp("pretrained")
    rng = np.random.default_rng(1)
    (folder / "unsup.txt").write_text("\n".join(review(rng, int(rng.integers(0, 2))) for _ in range(600)) + "\n",
                                      encoding="utf-8")
    lm = LanguageModeler(level="word", tokenizer="simple", hidden_size=24, num_layers=2, embedding_size=24,
                         tie_weights=True, dropout=0.2, weight_drop=0.2, locked_dropout=True, epochs=2, batch_size=8,
                         bptt=12, run_dir=folder / "run")
    lm.fit(str(folder / "unsup.txt"))
    lm.save(folder / "lm.safetensors")
    return folder / "lm.safetensors"


# ------------------------------------------------------------------ raw text
def test_simple_split_lowercases_and_splits_punctuation():
    assert split_words("A man's hat, the T-shirt!", "simple") == ["a", "man's", "hat", ",", "the", "t-shirt", "!"]
    assert split_words("A man's hat,", "whitespace") == ["A", "man's", "hat,"]
    with pytest.raises(ConfigError, match="unknown word split"):
        split_words("x", "bpe")


def test_vocabulary_records_its_tokenizer_and_encodes_with_it():
    v = Vocab(["<eos>", "<unk>", "good", "!"], level="word", unk="<unk>", tokenizer="simple")
    assert Vocab.from_dict(v.to_dict()).tokenizer == "simple"
    assert encode_text("Good!", v).tolist() == [2, 3, 0]
    plain = Vocab(["<eos>", "<unk>", "good"], level="word", unk="<unk>")
    assert "tokenizer" not in plain.to_dict()  # files written before the option read the same
    assert encode_text("Good!", plain).tolist() == [1, 0]


def test_word_corpus_with_the_simple_tokenizer(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("Great film!\nA dull, long film.\n" * 20, encoding="utf-8")
    corpus = load_corpus(path, level="word", tokenizer="simple")
    assert corpus.vocab.tokenizer == "simple"
    assert {"great", "film", "!", "dull", ",", "."} <= set(corpus.vocab.tokens)
    assert "Great" not in corpus.vocab


def test_text_column_of_tables_and_labelled_lines(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text('label,review\n1,"Great, really\ngreat"\n0,Dull\n', encoding="utf-8")
    assert read_text_column(table, "review") == ["Great, really great", "Dull"]
    lines = tmp_path / "l.tsv"
    lines.write_text("".join(f"{i % 2}\tsentence number {i}\n" for i in range(30)), encoding="utf-8")
    assert read_text_column(lines, "text")[:2] == ["sentence number 0", "sentence number 1"]
    extracted = text_column_file(lines, "text")
    assert extracted.read_text(encoding="utf-8").splitlines()[1] == "sentence number 1"
    from rnnkit.data.cache import cache_entries, clear_cache

    assert extracted in cache_entries()  # counted in the cache's size, removed by `rnnkit cache clear`
    clear_cache()
    assert not extracted.exists() and text_column_file(lines, "text").exists()  # made again when needed
    with pytest.raises(DataError, match="no column 'text'"):
        read_text_column(table, "text")
    with pytest.raises(DataError, match="no header line"):
        read_text_column(lines, "review")
    with pytest.raises(DataError, match="missing|not found|does not exist"):
        text_column_file(tmp_path / "absent.csv", "text")


# ------------------------------------------------------------------ fine-tuning
def test_remap_vocabulary_copies_shared_rows_and_starts_new_ones_at_the_mean():
    torch.manual_seed(0)
    old = LanguageModel(LanguageModelConfig(vocab_size=4, hidden_size=6, num_layers=1, tie_weights=True))
    state = old.state_dict()
    new_state, shared = remap_vocabulary(state, ["<eos>", "<unk>", "a", "b"], ["<eos>", "<unk>", "b", "c", "d"])
    assert shared == 3
    emb = new_state["embedding.weight"]
    assert torch.equal(emb[2], state["embedding.weight"][3])  # "b"
    assert torch.allclose(emb[3], state["embedding.weight"].mean(0)) and torch.equal(emb[3], emb[4])
    assert torch.allclose(new_state["decoder.bias"][4], state["decoder.bias"].mean())
    new = LanguageModel(LanguageModelConfig(vocab_size=5, hidden_size=6, num_layers=1, tie_weights=True))
    new.load_state_dict(new_state)  # the tied decoder takes the same rows
    assert new.decoder.weight is new.embedding.weight
    assert torch.equal(new.rnn.state_dict()["cells.0.weight_hh"], state["rnn.cells.0.weight_hh"])


def test_init_from_keeps_the_architecture_and_the_weights(tmp_path, pretrained):
    text = tmp_path / "target.txt"
    text.write_text("A superb story, and a new word: marvellous!\n" * 30, encoding="utf-8")
    settings = LMSettings.from_preset(None, train_files=[str(text)], init_from=str(pretrained), progress=False)
    source = LanguageModeler.load(pretrained)
    assert (settings.tokenizer, settings.hidden_size, settings.tie_weights) == ("simple", 24, True)
    task = _task(settings)
    vocab = task.corpus.vocab
    assert "marvellous" in vocab and "marvellous" not in source.vocab_
    theirs = source.model_.state_dict()
    ours = task.model.state_dict()
    for key in theirs:
        if key.startswith("rnn."):
            assert torch.equal(ours[key], theirs[key]), key
    superb = vocab.stoi["superb"], source.vocab_.stoi["superb"]
    assert torch.equal(ours["embedding.weight"][superb[0]], theirs["embedding.weight"][superb[1]])
    with pytest.raises(ConfigError, match="num_layers 3 .pretrained: 2."):
        _task(LMSettings.from_preset(None, train_files=[str(text)], init_from=str(pretrained), num_layers=3,
                                     progress=False))


def test_init_from_needs_a_language_model(tmp_path, reviews):
    clf = RNNClassifier(epochs=1, hidden_size=8).fit(*reviews)
    clf.save(tmp_path / "clf.safetensors")
    with pytest.raises(ConfigError, match="not a checkpoint of rnnkit lm train"):
        LMSettings.from_preset(None, train_files=["x"], init_from=str(tmp_path / "clf.safetensors"))


# ------------------------------------------------------------------ the recipe
def test_slanted_triangular_learning_rates_follow_the_paper():
    total = 1000  # cut = 100: up from 1/32 to 1 in 100 steps, then down to 1/32
    assert slanted_triangular(0, total) == pytest.approx(1 / 32)
    assert slanted_triangular(100, total) == pytest.approx(1.0)
    assert slanted_triangular(50, total) == pytest.approx((1 + 0.5 * 31) / 32)
    assert slanted_triangular(550, total) == pytest.approx((1 + 0.5 * 31) / 32)
    assert slanted_triangular(1000, total) == pytest.approx(1 / 32)


def lm_classifier(layers: int = 2) -> LMClassifier:
    torch.manual_seed(0)
    lm = LanguageModelConfig(vocab_size=20, hidden_size=8, num_layers=layers, embedding_size=8)
    return LMClassifier(LMClassifierConfig(num_classes=3, language_model=lm))


def test_discriminative_rates_and_gradual_unfreezing_groups():
    model = lm_classifier(layers=2)
    groups = param_groups(model, OptimConfig(layer_lr_decay=2.6))
    assert [g["lr_scale"] for g in groups] == pytest.approx([2.6 ** -3, 2.6 ** -2, 2.6 ** -1, 1.0])
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    unfreeze_top(groups, 1)
    assert [all(p.requires_grad for p in g["params"]) for g in groups] == [False, False, False, True]
    unfreeze_top(groups, 2)
    assert [all(p.requires_grad for p in g["params"]) for g in groups] == [False, False, True, True]
    unfreeze_top(groups, 4)
    assert all(p.requires_grad for p in model.parameters())
    assert len(param_groups(model, OptimConfig())) == 1  # no decay, no unfreezing: one group


def test_concat_pooling_ignores_padding():
    model = lm_classifier().eval()
    ids = torch.randint(1, 20, (1, 7))
    padded = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], dim=1)
    with torch.no_grad():
        alone = model(ids)
        both = model(torch.cat([padded, torch.randint(1, 20, (1, 11))]), torch.tensor([7, 11]))
        pooled = model.encode(ids)
        out, _ = model.rnn(model.embedding(ids))
    assert torch.allclose(alone, both[:1], atol=1e-6)
    expected = torch.cat([out[0, -1], out[0].max(0).values, out[0].mean(0)])
    assert torch.allclose(pooled[0], expected, atol=1e-6)


def two_part_pair(cell: str, bptt: int) -> tuple[LMClassifier, LMClassifier]:
    """The same float64 weights without dropout, read whole and (``bptt``) in two parts."""
    torch.manual_seed(0)
    lm = LanguageModelConfig(vocab_size=20, hidden_size=8, num_layers=2, embedding_size=6, cell=cell, dropout=0.0,
                             embedding_dropout=0.0, weight_drop=0.0)
    whole = LMClassifier(LMClassifierConfig(num_classes=3, language_model=lm, dropout=0.0)).double()
    parts = LMClassifier(LMClassifierConfig(num_classes=3, language_model=lm, dropout=0.0, bptt=bptt)).double()
    parts.load_state_dict(whole.state_dict())
    return whole.train(), parts.train()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_reading_in_two_parts_gives_the_whole_reading_and_cuts_the_gradient(cell):
    whole, parts = two_part_pair(cell, bptt=4)
    lengths = torch.tensor([11, 4, 2, 9, 5])  # longer than, equal to and shorter than the 4 backpropagated
    ids = torch.randint(1, 20, (5, 11)) * valid_mask(lengths, 11)
    assert torch.allclose(parts.encode(ids, lengths), whole.encode(ids, lengths), atol=1e-12)
    parts(ids, lengths).sum().backward()
    grad = parts.embedding.weight.grad
    tails = {int(i) for row, n in zip(ids, lengths) for i in row[max(0, int(n) - 4):n]}
    first_part_only = {int(i) for i in ids[0, :7]} - tails
    assert first_part_only and all(float(grad[i].abs().sum()) == 0 for i in first_part_only)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in parts.rnn.parameters())
    with torch.no_grad():  # no gradient wanted: read whole, as in evaluation
        assert torch.allclose(parts.encode(ids, lengths), whole.encode(ids, lengths), atol=1e-12)


def test_reading_in_two_parts_needs_a_positive_length():
    with pytest.raises(ConfigError, match="bptt"):
        LMClassifierConfig(num_classes=2, language_model=LanguageModelConfig(vocab_size=5), bptt=0)


def test_unfreezing_stages_are_an_epoch_unless_the_run_is_too_short_to_reach_the_bottom_by_half_way():
    assert unfreeze_stage_steps(100, 1000, 5) == 100  # 10 epochs, 5 groups: one more each epoch (ULMFiT)
    assert unfreeze_stage_steps(100, 300, 5) == 37  # 3 epochs: all 5 train from step 148, before half way
    assert unfreeze_stage_steps(100, 300, 1) == 100 and unfreeze_stage_steps(5, 5, 4) == 1
    counts = [unfrozen_groups(step, 37, 5) for step in (0, 36, 37, 74, 111, 148, 299)]
    assert counts == [1, 1, 2, 3, 4, 5, 5]
    for epochs in range(1, 12):
        for groups in range(2, 7):
            stage = unfreeze_stage_steps(50, 50 * epochs, groups)
            assert unfrozen_groups(50 * epochs // 2, stage, groups) == groups  # all train in the second half


def test_gradual_unfreezing_trains_the_head_first_and_lower_layers_later(pretrained, reviews, monkeypatch):
    from rnnkit.training import trainer as trainer_module

    source = LanguageModeler.load(pretrained).model_.state_dict()
    first_step = {}  # layer groups training -> the optimiser step they started at

    def record(step, stage, n_groups):
        count = unfrozen_groups(step, stage, n_groups)
        first_step.setdefault(count, step)
        return count

    monkeypatch.setattr(trainer_module, "unfrozen_groups", record)
    long = RNNClassifier(encoder=str(pretrained), epochs=8).fit(*reviews)  # 5 steps an epoch, 4 layer groups
    assert first_step == {1: 0, 2: 5, 3: 10, 4: 15}  # one more group each epoch
    assert all(p.requires_grad for p in long.model_.parameters())  # the model leaves fit trainable
    first_step.clear()
    short = RNNClassifier(encoder=str(pretrained), epochs=1).fit(*reviews)
    assert first_step == {1: 0, 2: 1, 3: 2, 4: 3}  # squeezed into the one epoch
    state = short.model_.state_dict()
    assert all(not torch.equal(state[k], v) for k, v in source.items() if k.endswith("weight_ih"))
    assert not torch.equal(state["embedding.weight"], source["embedding.weight"])


def test_frozen_layer_groups_keep_their_weights(pretrained, reviews, monkeypatch):
    from rnnkit.training import trainer as trainer_module

    source = LanguageModeler.load(pretrained).model_.state_dict()
    monkeypatch.setattr(trainer_module, "unfrozen_groups", lambda step, stage, n_groups: 2)  # head + top layer
    state = RNNClassifier(encoder=str(pretrained), epochs=2).fit(*reviews).model_.state_dict()
    assert torch.equal(state["embedding.weight"], source["embedding.weight"])
    assert torch.equal(state["rnn.cells.0.weight_ih"], source["rnn.cells.0.weight_ih"])
    assert not torch.equal(state["rnn.cells.1.weight_ih"], source["rnn.cells.1.weight_ih"])  # the top layer
    monkeypatch.setattr(trainer_module, "unfrozen_groups", unfrozen_groups)  # (undo() would drop the cache)
    everything = RNNClassifier(encoder=str(pretrained), epochs=1, gradual_unfreezing=False).fit(*reviews)
    assert not torch.equal(everything.model_.state_dict()["embedding.weight"], source["embedding.weight"])


def test_classifier_on_a_pretrained_encoder_learns_saves_and_streams(tmp_path, pretrained, reviews):
    texts, labels = reviews
    clf = RNNClassifier(encoder=str(pretrained), epochs=25, lr=1e-2, seed=0).fit(texts, labels)
    assert clf.score(texts, labels) >= 0.9
    assert isinstance(clf.model_, LMClassifier) and clf.pretrained_encoder_ == str(pretrained)
    source = LanguageModeler.load(pretrained).model_.config
    assert clf.model_.config.lm.weight_drop == pytest.approx(0.5 * source.weight_drop)  # encoder_dropout=0.5
    assert clf.model_.config.lm.dropout == pytest.approx(0.5 * source.dropout)
    lrs = [h["lr"] for h in clf.history_ if h["kind"] == "train"]
    assert max(lrs) == pytest.approx(1e-2, rel=0.05) and lrs[0] < lrs[len(lrs) // 5] > lrs[-1]  # slanted
    clf.save(tmp_path / "m.safetensors")
    again = RNNClassifier.load(tmp_path / "m.safetensors")
    assert np.allclose(again.predict_proba(texts[:10]), clf.predict_proba(texts[:10]), atol=1e-6)
    # a stream over a text's ids, <eos> last, ends on predict's answer; so does a server's session
    from rnnkit.serving.served import ServedModel

    served = ServedModel("reviews", again)
    for text, want in zip(texts[:4], again.predict_proba(texts[:4])):
        words = again._items([text])[0][0]  # the language model's tokens, <eos> closing them
        logits = again.stream().feed(again.encoder_.encode(words).words[None])[0, -1]
        np.testing.assert_allclose(np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum(), want,
                                   atol=1e-5)
        record = served.open("s", {}, 0.0)
        out = served.step([record], [served.parse({"tokens": words}, 10_000)])[0]
        assert out["probabilities"] == pytest.approx(dict(zip(map(str, again.classes_), want)), abs=1e-5)
        record = served.open("t", {}, 0.0)  # the text split by the language model's tokenizer, then <eos>
        served.step([record], [served.parse({"text": text}, 10_000)])
        out = served.step([record], [served.parse({"tokens": ["<eos>"]}, 10_000)])[0]
        assert out["probabilities"] == pytest.approx(dict(zip(map(str, again.classes_), want)), abs=1e-5)
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    from rnnkit.inference.onnx_export import read_onnx_metadata

    [path] = again.export(tmp_path / "m.onnx")  # the pooling state travels with the recurrent one
    meta, sess = read_onnx_metadata(path), ort.InferenceSession(str(path))
    assert meta["family"] == "transfer classifier" and meta["estimator"] == "RNNClassifier"
    words = again._items([texts[0]])[0][0]
    ids = np.asarray(again.encoder_.encode(words).words)[None]
    feed = {i.name: np.zeros([1 if d == "batch" else d for d in i.shape], np.float32) for i in sess.get_inputs()
            if i.name != "ids"}
    feed["pool_max"][:] = -np.inf
    logits = sess.run(None, {"ids": ids, **feed})[0][0]
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(), again.predict_proba(texts[:1])[0], atol=1e-5)
    with pytest.raises(DataError, match="reads text"):
        RNNClassifier(encoder=str(pretrained), epochs=1).fit(np.zeros((6, 5, 1)), [0, 1] * 3)


def test_truncate_keeps_the_opening_and_the_end():
    tokens = list(range(100))
    assert truncate(tokens, 8) == [0, 1, 94, 95, 96, 97, 98, 99]
    assert truncate(tokens[:5], 8) == tokens[:5] and truncate(tokens, None) == tokens


# ------------------------------------------------------------------ the commands
def test_ulmfit_from_the_command_line(tmp_path, reviews, monkeypatch):
    monkeypatch.chdir(tmp_path)  # predict writes its files into the current folder
    rng = np.random.default_rng(2)
    unsup = tmp_path / "unsup.txt"
    unsup.write_text("\n".join(review(rng, int(rng.integers(0, 2))) for _ in range(400)) + "\n", encoding="utf-8")
    texts, labels = reviews
    train, test = tmp_path / "train.tsv", tmp_path / "test.tsv"
    train.write_text("".join(f"{y}\t{x}\n" for x, y in zip(texts[:120], labels[:120])), encoding="utf-8")
    test.write_text("".join(f"{y}\t{x}\n" for x, y in zip(texts[120:], labels[120:])), encoding="utf-8")
    tiny = ["--hidden", "24", "--embedding", "24", "--layers", "2", "--tie-weights", "--bptt", "12",
            "--batch-size", "8", "--quiet"]
    r = runner.invoke(app, ["lm", "train", str(unsup), "--level", "word", "--tokenizer", "simple", "--epochs", "1",
                            "-o", str(tmp_path / "pre"), *tiny])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["lm", "train", str(train), "--text-col", "text", "--init-from",
                            str(tmp_path / "pre" / "best.safetensors"), "--epochs", "1", "--batch-size", "4",
                            "-o", str(tmp_path / "ft"), "--quiet"])
    assert r.exit_code == 0, r.output
    settings = LanguageModeler.load(tmp_path / "ft" / "best.safetensors").settings_
    assert settings is not None and settings.tokenizer == "simple" and settings.text_col == "text"
    r = runner.invoke(app, ["classify", "train", "--train", str(train), "--test", str(test), "--encoder",
                            str(tmp_path / "ft" / "best.safetensors"), "--epochs", "3", "--max-length", "40",
                            "--bptt", "10", "-o", str(tmp_path / "clf"), "--quiet"])
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "clf" / "test_report.json").read_text())
    assert RNNClassifier.load(tmp_path / "clf" / "model.safetensors").model_.config.bptt == 10
    assert 0 <= report["accuracy"] <= 1 and "baseline" in report
    r = runner.invoke(app, ["classify", "predict", str(tmp_path / "clf" / "model.safetensors"), str(test)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "test.tsv.predictions.csv").read_text().startswith("index,label,predicted")
    r = runner.invoke(app, ["export", str(tmp_path / "clf" / "model.safetensors"), "-o", str(tmp_path / "m.onnx")])
    assert r.exit_code == 0 and (tmp_path / "m.onnx").exists(), r.output  # streams with its pooling state
    bad = runner.invoke(app, ["classify", "train", "--train", str(train), "--encoder", str(test), "-o",
                              str(tmp_path / "bad"), "--quiet"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    bad = runner.invoke(app, ["classify", "train", "--train", str(train), "--bptt", "10", "-o", str(tmp_path / "b2")])
    assert bad.exit_code != 0 and "pretrained encoder" in bad.output and "Traceback" not in bad.output
    assert not math.isnan(report["accuracy"])
