"""Vocabularies, strict text reading, cached token ids, contiguous splits."""

import numpy as np
import pytest

from rnnkit.data import EOS, UNK, Vocab, load_corpus, read_text
from rnnkit.data.text import encode_cached, encode_text
from rnnkit.errors import DataError


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))


def test_char_vocab_round_trip_and_unknown_character():
    v = Vocab.build_chars(["hello\n", "world"])
    assert v.tokens == sorted(set("hello\nworld"))
    ids = encode_text("hello\nworld", v)
    assert v.decode(ids) == "hello\nworld"
    with pytest.raises(DataError, match="'z' is not in the model's vocabulary"):
        encode_text("hez", v)


def test_word_vocab_eos_unk_min_freq_and_decode():
    lines = "the cat sat\nthe dog sat\nthe end\n"
    from rnnkit.data.text import word_tokens

    v = Vocab.build_words([word_tokens(lines)], min_freq=2)
    assert v.tokens[:2] == [EOS, UNK] and set(v.tokens[2:]) == {"the", "sat"}
    ids = encode_text("the cat sat\n", v)
    assert v.decode(ids) == f"the {UNK} sat\n"
    assert list(word_tokens("a b\nc\n")) == ["a", "b", EOS, "c", EOS]
    padded = Vocab.build_words([["b", "a", "b"]], specials=("<pad>", UNK))
    assert padded.tokens == ["<pad>", UNK, "b", "a"] and padded.encode(["zz"]).tolist() == [1]


def test_vocab_serialises():
    v = Vocab.build_chars(["abc"])
    assert Vocab.from_dict(v.to_dict()).tokens == v.tokens


@pytest.mark.parametrize("content,message", [
    (None, "file not found"),
    (b"", "is empty"),
    (b"  \n\n", "is empty"),
    (b"abc\x00\x01\x02", "looks like a binary file"),
    (b"caf\xe9 au lait\n", r"not valid UTF-8 \(byte 0xe9 on line 1\)"),
])
def test_read_text_rejects_bad_files_with_one_line(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        read_text(path)
    assert "\n" not in str(info.value)


def test_read_text_strips_bom_and_rejects_folders(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffhi".encode("utf-8"))
    assert read_text(path) == "hi"
    with pytest.raises(DataError, match="is a folder"):
        read_text(tmp_path)


def test_token_ids_are_memory_mapped_and_correct(tmp_path):
    text = "abcabcab" * 1000
    v = Vocab.build_chars([text])
    ids = encode_cached(text, v)
    assert isinstance(ids, np.memmap)
    np.testing.assert_array_equal(ids, encode_text(text, v))
    again = encode_cached(text, v)  # served from the cache
    assert again.filename == ids.filename


def test_single_file_is_split_contiguously_90_5_5(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    path = tmp_path / "c.txt"
    path.write_text(text)
    c = load_corpus(path, level="char")
    assert (len(c.train), len(c.valid), len(c.test)) == (900, 50, 50)
    joined = c.vocab.decode(np.concatenate([c.train, c.valid, c.test]))
    assert joined == text  # contiguous pieces, in order, nothing lost or interleaved


def test_word_split_cuts_at_line_ends_and_uses_train_vocab(tmp_path):
    lines = [f"w{i % 7} w{i % 5}" for i in range(1000)] + ["rare words only here"] * 3
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines) + "\n")
    c = load_corpus(path, level="word")
    assert "rare" not in c.vocab  # it only occurs in the held-out tail
    assert c.vocab.decode(c.test).endswith("\n") and UNK in c.vocab.decode(c.test)


def test_corpus_errors(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("ab")
    with pytest.raises(DataError, match="too small to split"):
        load_corpus(path)
    with pytest.raises(DataError, match="give both --valid and --test"):
        load_corpus(path, valid=path)


# ------------------------------------------------------------------ the specials policy


def test_every_policy_names_its_special_ids():
    from rnnkit.data.sentences import SentenceCodec
    from rnnkit.data.token_encoder import TokenEncoder
    from rnnkit.data.vocab import LM_WORDS, NO_SPECIALS, PADDED, SEQ2SEQ

    lm_words = Vocab.build_words([["a", "b", "a"]])
    assert lm_words.specials == LM_WORDS and (lm_words.eos_id, lm_words.unk_id, lm_words.pad_id) == (0, 1, None)
    chars = Vocab.build_chars(["ab"])
    assert chars.specials == NO_SPECIALS and chars.unk_id is None and chars.eos_id is None
    enc = TokenEncoder.fit([["The", "cat"]], char_features=True)
    assert enc.words.specials == PADDED and enc.chars is not None and enc.chars.specials == PADDED
    assert (enc.words.pad_id, enc.words.unk_id) == (0, 1)
    codec = SentenceCodec.fit(["a cat sat"], tokenizer="whitespace")
    assert codec.vocab.specials == SEQ2SEQ
    assert (codec.vocab.pad_id, codec.vocab.unk_id, codec.vocab.bos_id, codec.vocab.eos_id) == (0, 1, 2, 3)
    with pytest.raises(ValueError, match="starts with"):
        SentenceCodec(Vocab(["<pad>", "<unk>", "a"], level="word", unk="<unk>"))
    with pytest.raises(ValueError, match="must start with its specials"):
        Vocab(["a", "<pad>"], level="word", specials=("<pad>",))


def test_vocabularies_saved_before_the_policy_load_with_their_specials():
    old_lm = {"tokens": ["<eos>", "<unk>", "the"], "level": "word", "unk": "<unk>"}  # no "specials" key
    old_tagger = {"tokens": ["<pad>", "<unk>", "the"], "level": "word", "unk": "<unk>"}
    old_chars = {"tokens": ["\n", " ", "a"], "level": "char", "unk": None}
    assert Vocab.from_dict(old_lm).specials == ("<eos>", "<unk>")
    assert Vocab.from_dict(old_tagger).pad_id == 0
    assert Vocab.from_dict(old_chars).specials == ()
    v = Vocab.build_words([["x", "y"]], specials=("<pad>", "<unk>"))
    assert Vocab.from_dict(v.to_dict()).specials == v.specials


# ------------------------------------------------------------------ streamed corpora == in-memory


def _reference_word_corpus(files, valid, test, split, min_freq, max_vocab):
    """The corpus as the in-memory reader built it: the whole text, cut at line ends."""
    from rnnkit.data.text import tokens

    text = "\n".join(read_text(p) for p in files)
    if valid is None:
        def line_end(pos):
            nl = text.find("\n", pos)
            return len(text) if nl < 0 else nl + 1
        n = len(text)
        a, b = line_end(int(n * split[0])), line_end(int(n * (split[0] + split[1])))
        texts = {"train": text[:a], "valid": text[a:b], "test": text[b:]}
    else:
        texts = {"train": text, "valid": read_text(valid), "test": read_text(test)}
    vocab = Vocab.build_words([tokens(texts["train"], "word")], min_freq=min_freq, max_size=max_vocab)
    return vocab, {k: encode_text(t, vocab) for k, t in texts.items()}


@pytest.mark.parametrize("split, min_freq, max_vocab, separate", [
    ((0.9, 0.05, 0.05), 1, None, False), ((0.6, 0.2, 0.2), 2, 12, False), ((0.9, 0.05, 0.05), 1, None, True)])
def test_streamed_word_corpus_equals_the_in_memory_one(tmp_path, monkeypatch, split, min_freq, max_vocab, separate):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    lines = [" ".join(rng.choice(words, rng.integers(0, 9))) for _ in range(300)]
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_text("\n".join(lines[:150]) + "\n\n", encoding="utf-8")
    two.write_bytes(("\r\n".join(lines[150:])).encode())  # CRLF, no final newline
    valid = test = None
    if separate:
        valid, test = tmp_path / "v.txt", tmp_path / "t.txt"
        valid.write_text("\n".join(lines[:20]) + "\nunseen words here\n")
        test.write_text("\n".join(lines[20:40]))
    c = load_corpus([one, two], valid, test, level="word", split=split, min_freq=min_freq, max_vocab=max_vocab)
    vocab, ids = _reference_word_corpus([one, two], valid, test, split, min_freq, max_vocab)
    assert c.vocab.tokens == vocab.tokens
    for name in ("train", "valid", "test"):
        assert np.array_equal(np.asarray(getattr(c, name)), ids[name]), name
