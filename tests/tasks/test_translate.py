"""Translation: reading parallel text, the attentional encoder-decoder, greedy and beam
search, the toy reverse task, BLEU/chrF and the CLI on real temporary files."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli.main import app
from rnnkit.data.parallel import PairBatches, keep_by_length, read_aligned, read_pairs_tsv, read_parallel
from rnnkit.data.sentences import BOS_ID, EOS_ID
from rnnkit.errors import ConfigError, DataError
from rnnkit.generation.beam import SpecialIds, beam_search, greedy_search
from rnnkit.layers.attention import Attention
from rnnkit.models import Seq2Seq, Seq2SeqConfig
from rnnkit.tasks.translate import Translator

runner = CliRunner()
LETTERS = list("abcdefghij")


def reverse_pairs(n, seed, lengths=(3, 7)):
    rng = np.random.default_rng(seed)
    src = [" ".join(rng.choice(LETTERS, rng.integers(lengths[0], lengths[1] + 1))) for _ in range(n)]
    return src, [" ".join(s.split()[::-1]) for s in src]


@pytest.fixture(scope="module")
def reverser():
    """A small attentional LSTM (Bahdanau scores) trained to reverse letter sequences (about 15 s)."""
    src, tgt = reverse_pairs(4000, 0)
    v_src, v_tgt = reverse_pairs(200, 1)
    model = Translator(tokenizer="whitespace", min_freq=1, hidden_size=64, embedding_size=32, dropout=0.0,
                       attention="additive", epochs=6, lr=5e-3, schedule="cosine", batch_size=32, verbose=False,
                       early_stopping=None, device="cpu")
    return model.fit(src, tgt, v_src, v_tgt), v_src, v_tgt


# ------------------------------------------------------------------ data


def test_read_pairs_and_aligned_files(tmp_path):
    tsv = tmp_path / "fra.txt"
    tsv.write_text("Go.\tVa !\tCC-BY\n\nHi.\tSalut !\n", encoding="utf-8")
    assert read_pairs_tsv(tsv) == (["Go.", "Hi."], ["Va !", "Salut !"])
    tsv.write_text("Go.\tVa !\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2: expected 'source<TAB>target'"):
        read_pairs_tsv(tsv)
    tsv.write_text("Go.\t \n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1: the target sentence is empty"):
        read_pairs_tsv(tsv)
    en, de = tmp_path / "a.en", tmp_path / "a.de"
    en.write_text("a dog .\na cat .\n", encoding="utf-8")
    de.write_text("ein hund .\n", encoding="utf-8")
    with pytest.raises(DataError, match="misaligned files: .* 2 lines but .* 1"):
        read_aligned(en, de)
    de.write_text("ein hund .\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2 is empty"):
        read_aligned(en, de)
    de.write_bytes("ein hund .\neine katze \xe4 .\n".encode("latin-1"))
    with pytest.raises(DataError, match="not valid UTF-8"):
        read_aligned(en, de)
    with pytest.raises(DataError, match="not both"):
        read_parallel(tsv, en, de)


def test_gzipped_files_are_read(tmp_path):
    import gzip

    (tmp_path / "s.gz").write_bytes(gzip.compress(b"eins\nzwei\n"))
    (tmp_path / "t.gz").write_bytes(gzip.compress(b"one\ntwo\n"))
    assert read_aligned(tmp_path / "s.gz", tmp_path / "t.gz") == (["eins", "zwei"], ["one", "two"])
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="not a readable gzip"):
        read_aligned(tmp_path / "bad.gz", tmp_path / "t.gz")


def test_length_filter_and_bucketed_batches():
    src = [np.arange(1, n + 1) + 3 for n in (2, 9, 3, 4, 30, 5)]
    tgt = [np.arange(1, n + 1) + 3 for n in (2, 8, 3, 40, 4, 5)]
    assert keep_by_length(src, tgt, 10).tolist() == [0, 1, 2, 5]
    many_src = [np.full(n, 5) for n in np.random.default_rng(0).integers(1, 40, 400)]
    batches = PairBatches(many_src, many_src, 16, seed=0)
    order = batches.order(0)
    assert sorted(order.tolist()) == list(range(400)) and not np.array_equal(order, batches.order(1))
    spread = [np.ptp([len(many_src[i]) for i in order[k:k + 16]]) for k in range(0, 384, 16)]
    assert max(spread) <= 4  # similar lengths in each batch: little padding
    b = batches.batch(np.array([0, 1]))
    n0 = len(many_src[0])
    assert b.tgt_in[0, 0] == BOS_ID and b.tgt_out[0, n0] == EOS_ID and b.tgt_lengths[0] == n0 + 1


# ------------------------------------------------------------------ model


@pytest.mark.parametrize("kind", ["dot", "general", "additive"])
def test_attention_ignores_padding_and_weights_sum_to_one(kind):
    torch.manual_seed(0)
    att = Attention(kind, 6, 6)
    memory = torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    context, w = att(torch.randn(2, 6), att.prepare(memory), memory, mask)
    torch.testing.assert_close(w.sum(-1), torch.ones(2))
    assert (w[1, 3:] == 0).all()
    changed = memory.clone()
    changed[1, 3:] = 100.0  # padding content cannot move the context
    q = torch.randn(2, 6)
    torch.testing.assert_close(att(q, att.prepare(memory), memory, mask)[0][1],
                               att(q, att.prepare(changed), changed, mask)[0][1])


@pytest.mark.parametrize("cfg", [dict(attention="general"), dict(attention="additive", cell="gru"),
                                 dict(attention="dot", num_layers=2), dict(attention="none"),
                                 dict(attention="general", input_feeding=False), dict(tie_embeddings=True)])
def test_teacher_forced_forward_equals_step_by_step(cfg):
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(src_vocab_size=13, tgt_vocab_size=11, hidden_size=8, embedding_size=8,
                                  **cfg)).eval()
    src = torch.randint(4, 13, (3, 6))
    lengths = torch.tensor([6, 4, 2])
    tgt = torch.randint(4, 11, (3, 5))
    logits, attn = model(src, lengths, tgt, return_attention=True)
    memory, state = model.encode(src, lengths)
    for t in range(5):
        out, state, w = model.step(tgt[:, t], state, memory)
        torch.testing.assert_close(out, logits[:, t], atol=1e-5, rtol=1e-5)
    # padded source steps get no attention, and a sentence's result does not depend on its batch
    assert (attn[1, :, 4:] == 0).all() and (attn[2, :, 2:] == 0).all()
    alone = model(src[2:, :2], lengths[2:], tgt[2:])
    torch.testing.assert_close(alone[0], logits[2], atol=1e-5, rtol=1e-5)


def test_encoder_state_initialises_decoder():
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(src_vocab_size=9, tgt_vocab_size=9, hidden_size=8, embedding_size=4,
                                  attention="none", num_layers=2)).eval()
    src = torch.randint(4, 9, (2, 5))
    a = model(src, torch.tensor([5, 5]), torch.full((2, 1), BOS_ID))
    src2 = src.clone()
    src2[:, 0] = (src[:, 0] - 4 + 1) % 5 + 4  # change the first source word only
    b = model(src2, torch.tensor([5, 5]), torch.full((2, 1), BOS_ID))
    assert not torch.allclose(a, b)  # without attention, only the state carries the source


@pytest.mark.parametrize("attention", ["additive", "general"])
def test_float64_gradcheck_through_encoder_attention_decoder(attention):
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(src_vocab_size=7, tgt_vocab_size=6, hidden_size=4, embedding_size=3,
                                  attention=attention, dropout=0.0)).double()
    src, lengths, tgt = torch.randint(4, 7, (2, 3)), torch.tensor([3, 2]), torch.randint(4, 6, (2, 3))
    weight = model.src_embedding.weight.detach().clone().requires_grad_(True)

    def logits(w):
        return torch.func.functional_call(model, {"src_embedding.weight": w}, (src, lengths, tgt))

    assert torch.autograd.gradcheck(logits, (weight,))


def test_config_errors():
    with pytest.raises(ConfigError, match="even size"):
        Seq2SeqConfig(src_vocab_size=5, tgt_vocab_size=5, hidden_size=7)
    with pytest.raises(ConfigError, match="attention must be"):
        Seq2SeqConfig(src_vocab_size=5, tgt_vocab_size=5, attention="bahdanau")
    with pytest.raises(ValueError, match="dot attention"):
        Attention("dot", 4, 6)


# ------------------------------------------------------------------ search and the toy task


def test_toy_reverse_task_exact_match(reverser):
    model, v_src, v_tgt = reverser
    greedy = model.translate(v_src, beam_size=1)
    beam = model.translate(v_src, beam_size=5)
    assert np.mean([a == b for a, b in zip(greedy, v_tgt)]) > 0.99
    assert np.mean([a == b for a, b in zip(beam, v_tgt)]) > 0.99
    scores = model.evaluate(v_src, v_tgt, beam_size=1)
    assert scores["bleu"] > 95 and scores["chrf"] > 95
    # the word-for-word baseline learns the identity dictionary, but keeps the source order
    src, tgt = reverse_pairs(4000, 0)
    base = model.baseline(src, tgt, v_src, v_tgt)
    assert base["translations"] == v_src and base["bleu"] < 50 < scores["bleu"]


def test_ibm_model_1_learns_the_dictionary_from_co_occurrence_alone():
    from rnnkit.evaluation.translation_baseline import ibm1_dictionary, word_for_word

    # the textbook example: "das haus" / "the house", "das buch" / "the book", "ein buch" / "a book"
    src_words, tgt_words = ["das", "haus", "buch", "ein"], ["the", "house", "book", "a"]
    pairs = [("das haus", "the house"), ("das buch", "the book"), ("ein buch", "a book")]
    ids = lambda text, words: np.array([words.index(w) for w in text.split()])  # noqa: E731
    dictionary = ibm1_dictionary([ids(s, src_words) for s, _ in pairs], [ids(t, tgt_words) for _, t in pairs],
                                 len(src_words), iterations=10)
    assert [tgt_words[i] for i in dictionary] == ["the", "house", "book", "a"]
    assert word_for_word(dictionary, np.array([2, 9, 0]), unk_source=9, unk_target=7).tolist() == [2, 7, 0]


def test_beam_is_at_least_greedy_in_model_score(reverser):
    model, _, _ = reverser
    model.length_penalty = 0.0  # compare raw log-probabilities
    try:
        usual = reverse_pairs(100, 7)[0]
        greedy, beam = model.hypotheses(usual, beam_size=1), model.hypotheses(usual, beam_size=5)
        assert all(b.score >= g.score - 1e-4 for b, g in zip(beam, greedy))
        # longer than anything in training: the model is unsure and the search matters. Beam
        # search can lose the greedy path (it is pruned, not guaranteed), but rarely, and it
        # wins on average.
        long = reverse_pairs(100, 8, lengths=(8, 12))[0]
        greedy, beam = model.hypotheses(long, beam_size=1), model.hypotheses(long, beam_size=5)
    finally:
        model.length_penalty = 0.6
    assert np.mean([b.score >= g.score - 1e-4 for b, g in zip(beam, greedy)]) >= 0.95
    assert np.mean([b.score for b in beam]) > np.mean([g.score for g in greedy])
    # the scores are what the model assigns: re-score a hypothesis with teacher forcing
    h = beam[0]
    src_ids = torch.as_tensor(model.src_codec_.encode(long[0]))[None]
    tgt_in = torch.tensor([[BOS_ID, *h.ids]])
    with torch.no_grad():
        logp = torch.log_softmax(model.model_(src_ids, torch.tensor([src_ids.shape[1]]), tgt_in), -1)[0]
    rescored = sum(float(logp[t, tok]) for t, tok in enumerate([*h.ids, EOS_ID]))
    assert rescored == pytest.approx(h.score, abs=1e-3)


def test_beam_of_one_is_greedy():
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(src_vocab_size=12, tgt_vocab_size=12, hidden_size=8, embedding_size=8)).eval()
    src, lengths = torch.randint(4, 12, (4, 6)), torch.tensor([6, 5, 3, 6])
    specials = SpecialIds(bos=BOS_ID, eos=EOS_ID, pad=0)
    greedy = greedy_search(model, src, lengths, specials, max_length_ratio=2.0)
    beam = beam_search(model, src, lengths, specials, beam_size=1, length_penalty=0.0, max_length_ratio=2.0)
    for g, b in zip(greedy, beam):
        assert g.ids == b.ids and g.score == pytest.approx(b.score, abs=1e-5)
        assert len(g.ids) <= 12


def test_attention_plot_and_persistence(reverser, tmp_path):
    pytest.importorskip("matplotlib")
    model, v_src, _ = reverser
    path = model.plot_attention(v_src[0], tmp_path / "att.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    hyp = model.hypotheses([v_src[0]], return_attention=True)[0]
    n = len(v_src[0].split())
    # reversing: output step t looks mostly at source step n - 1 - t
    assert [int(hyp.attention[t, :n].argmax()) for t in range(n)] == list(range(n - 1, -1, -1))
    saved = model.save(tmp_path / "m.safetensors")
    again = Translator.load(saved)
    assert again.translate(v_src[:5], beam_size=1) == model.translate(v_src[:5], beam_size=1)


# ------------------------------------------------------------------ CLI


def test_cli_train_translate_evaluate(tmp_path):
    src, tgt = reverse_pairs(300, 3)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"{s}\t{t}\n" for s, t in zip(src, tgt)), encoding="utf-8")
    out = tmp_path / "run"
    valid = tmp_path / "valid.tsv"
    valid.write_text("".join(f"{s}\t{t}\n" for s, t in zip(*reverse_pairs(20, 5))), encoding="utf-8")
    r = runner.invoke(app, ["translate", "train", "--pairs", str(pairs), "--valid-pairs", str(valid), "--hidden",
                            "16", "--embedding", "8", "--epochs", "1", "--min-freq", "1", "-q", "--out", str(out),
                            "--device", "cpu"])
    assert r.exit_code == 0, r.output
    ckpt = out / "model.safetensors"
    assert "300 training pairs" in r.output and ckpt.exists()
    assert "baseline: word for word (IBM Model 1 dictionary)" in " ".join(r.output.split())
    assert "model_beats_baseline" in json.loads((out / "valid_report.json").read_text())["baseline"]
    # without validation pairs: fit's own held-out share, split off here so that BLEU is scored on it
    r = runner.invoke(app, ["translate", "train", "--pairs", str(pairs), "--hidden", "16", "--embedding", "8",
                            "--epochs", "1", "--min-freq", "1", "-q", "--out", str(tmp_path / "own"), "--device",
                            "cpu"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "validation: 15 of the training pairs held out (5%, as fit would)" in text and "validation: BLEU" in text
    assert "baseline: word for word" in text
    r = runner.invoke(app, ["translate", str(ckpt), "a b c", "d e", "--beam", "1"])
    assert r.exit_code == 0, r.output
    assert len(r.output.splitlines()) == 2
    r = runner.invoke(app, ["translate", str(ckpt)], input="a b\nc d e\n")
    assert r.exit_code == 0 and len(r.output.splitlines()) == 2
    (tmp_path / "s.txt").write_text("\n".join(src[:20]) + "\n", encoding="utf-8")
    (tmp_path / "r.txt").write_text("\n".join(tgt[:20]) + "\n", encoding="utf-8")
    r = runner.invoke(app, ["translate", "evaluate", str(ckpt), "--src", str(tmp_path / "s.txt"), "--ref",
                            str(tmp_path / "r.txt"), "--output", str(tmp_path / "hyp.txt"), "--beam", "2"])
    assert r.exit_code == 0, r.output
    assert "BLEU" in r.output and "chrF" in r.output
    assert len((tmp_path / "hyp.txt").read_text(encoding="utf-8").splitlines()) == 20
    # user mistakes: one line, exit 2
    r = runner.invoke(app, ["translate", "evaluate", str(ckpt), "--src", str(tmp_path / "s.txt"), "--ref",
                            str(pairs)])
    assert r.exit_code == 2 and "misaligned files" in r.output
    r = runner.invoke(app, ["translate", str(tmp_path / "missing.safetensors"), "x"])
    assert r.exit_code == 2 and "checkpoint not found" in r.output
    r = runner.invoke(app, ["translate", "train", "--pairs", str(pairs), "--out", str(out), "-q"])
    assert r.exit_code == 2 and "already holds a training run" in r.output
    r = runner.invoke(app, ["translate", "train", "--src", str(tmp_path / "s.txt"), "-q", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "both --src and --tgt" in r.output


@pytest.mark.slow
def test_cli_on_multi30k(shared_data, tmp_path):
    raw = shared_data / "multi30k" / "raw"
    if not (raw / "train.en.gz").exists():
        pytest.skip("multi30k is not under ../shared/data")
    out = tmp_path / "run"
    r = runner.invoke(app, ["translate", "train", "--src", str(raw / "train.en.gz"), "--tgt", str(raw / "train.de.gz"),
                            "--valid-src", str(raw / "val.en.gz"), "--valid-tgt", str(raw / "val.de.gz"),
                            "--hidden", "64", "--embedding", "64", "--max-time", "60", "--beam", "1", "-q",
                            "--out", str(out), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "29,000 training pairs, 1,014 validation pairs" in r.output and "validation: BLEU" in r.output
    r = runner.invoke(app, ["translate", str(out / "model.safetensors"), "Two dogs play in the snow."])
    assert r.exit_code == 0 and r.output.strip()
    r = runner.invoke(app, ["translate", "evaluate", str(out / "model.safetensors"), "--src",
                            str(raw / "test_2016_flickr.en.gz"), "--ref", str(raw / "test_2016_flickr.de.gz"),
                            "--beam", "1"])
    assert r.exit_code == 0 and "1,000 sentences" in r.output


def test_ibm_model_1_learns_from_a_subset_when_the_corpus_is_too_large(monkeypatch):
    from rnnkit.evaluation import translation_baseline

    src = [np.array([i % 3, 3]) for i in range(300)]  # words 0-2 mean 0-2; word 3 is "the"
    tgt = [np.array([3, i % 3]) for i in range(300)]
    full = translation_baseline.ibm1_dictionary(src, tgt, 4)
    calls = []
    real_unique = np.unique
    monkeypatch.setattr(np, "unique", lambda keys, **kw: calls.append(len(keys)) or real_unique(keys, **kw))
    monkeypatch.setattr(translation_baseline, "MAX_LINKS", 600)  # 100 of the 300 pairs (6 links each)
    assert translation_baseline.ibm1_dictionary(src, tgt, 4).tolist() == full.tolist() == [0, 1, 2, 3]
    assert calls == [600]  # EM ran on the links of 100 pairs only
