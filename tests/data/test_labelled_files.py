"""CSV sequences, format detection, and the token encoder."""

import numpy as np
import pytest

from rnnkit.data.csv_sequences import read_sequence_csv
from rnnkit.data.labelled_files import detect_format, read_labelled_file
from rnnkit.data.token_encoder import TokenEncoder
from rnnkit.errors import DataError


def test_wide_csv_with_short_rows(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("label,t0,t1,t2\nup,1,2,3\ndown,3,2,\n")
    d = read_sequence_csv(p)
    assert d.labels == ["up", "down"] and [s.shape for s in d.series] == [(3, 1), (2, 1)]
    np.testing.assert_array_equal(d.series[1][:, 0], [3, 2])


def test_long_csv_groups_and_sorts(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("id,time,a,b,label\n"
                 "s1,2,3,30,x\ns1,1,1,10,x\ns2,1,5,50,y\ns1,3,4,40,x\n")
    d = read_sequence_csv(p, id_column="id", time_column="time")
    assert d.labels == ["x", "y"] and d.channels == 2
    np.testing.assert_array_equal(d.series[0], [[1, 10], [3, 30], [4, 40]])


@pytest.mark.parametrize("text, kwargs, message", [
    ("label,t0\nup,abc\n", {}, "non-numeric value 'abc'"),
    ("label,t0,t1,t2\nup,1,,3\n", {}, "missing values inside the series"),
    ("cls,t0\nup,1\n", {}, "no 'label' column"),
    ("label,t0\nup,\n", {}, "the series has no values"),
    ("id,a,label\n1,1,x\n1,2,y\n", {"id_column": "id"}, "label changes within the sequence"),
    ("id,a,label\n1,1,x\n", {"id_column": "key"}, "no 'key' column"),
])
def test_csv_errors(tmp_path, text, kwargs, message):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=message):
        read_sequence_csv(p, **kwargs)


def test_interpolate_interior_gaps(tmp_path):
    p = tmp_path / "gap.csv"
    p.write_text("label,t0,t1,t2\nup,1,,3\n")
    np.testing.assert_allclose(read_sequence_csv(p, missing="interpolate").series[0][:, 0], [1, 2, 3])


def test_format_detection(tmp_path):
    ucr = tmp_path / "a.tsv"
    ucr.write_text("1\t0.5\t-1\tNaN\n2\t1\t2\t3\n")
    text = tmp_path / "b.tsv"
    text.write_text("pos\ta fine film\n")
    sst = tmp_path / "stsa.binary.train"
    sst.write_text("1 a gripping , moving film\n0 dull\n")
    assert detect_format(ucr) == "ucr" and detect_format(text) == "text" and detect_format(sst) == "text"
    d = read_labelled_file(ucr)
    assert d.kind == "series" and d.y == ["1", "2"] and len(d.X[0]) == 2
    s = read_labelled_file(sst)
    assert s.kind == "text" and s.y == ["1", "0"] and s.X[0] == "a gripping , moving film"
    with pytest.raises(DataError, match="unknown format"):
        read_labelled_file(ucr, fmt="xlsx")


def test_token_encoder_words_and_chars():
    enc = TokenEncoder.fit([["The", "cat"], ["the", "dog"]], char_features=True, max_word_length=4)
    assert enc.words.tokens[:2] == ["<pad>", "<unk>"] and "the" in enc.words and "The" not in enc.words
    e = enc.encode(["THE", "caterpillar", "zebra"])
    unk = enc.words.stoi["<unk>"]
    assert e.words.tolist() == [enc.words.stoi["the"], unk, unk]  # words are looked up lowercased
    assert e.chars.shape == (3, 4)  # capped at max_word_length
    assert (e.chars[1] == enc.chars.encode(list("cate"))).all()
    assert e.chars[0, 0] == enc.chars.stoi["T"] and e.chars[0, 1] == enc.chars.stoi["<unk>"]  # 'H' unseen
    again = TokenEncoder.from_dict(enc.to_dict())
    assert (again.encode(["cat"]).chars == enc.encode(["cat"]).chars).all()


def test_labelled_sentences_label_last_first_or_refused(tmp_path):
    from rnnkit.data.labelled_text import read_labelled_sentences
    from rnnkit.errors import DataError

    words = ["a fine film", "a dull plot", "great acting here", "weak ending", "lovely score", "bad pacing"] * 5
    last = tmp_path / "last.tsv"
    last.write_text("".join(f"{w} number {i}\t{'pos' if i % 2 == 0 else 'neg'}\n" for i, w in enumerate(words)))
    sentences, labels, side = read_labelled_sentences(last)
    assert side == "last" and set(labels) == {"pos", "neg"} and sentences[0] == "a fine film number 0"
    first = tmp_path / "first.txt"
    first.write_text("".join(f"{i % 3} {w} number {i}\n" for i, w in enumerate(words)))
    sentences, labels, side = read_labelled_sentences(first)
    assert side == "first" and set(labels) == {"0", "1", "2"}
    free = tmp_path / "free.tsv"
    free.write_text("".join(f"{w} number {i}\tand {i} more\n" for i, w in enumerate(words)))
    with pytest.raises(DataError, match="does not look like labelled sentences: the label would take 30 different"):
        read_labelled_sentences(free)
    data = read_labelled_file(last)
    assert data.note == "labels: the last field of each line" and data.kind == "text"


def test_unicode_line_separators_stay_inside_a_sentence(tmp_path):
    from rnnkit.data.labelled_text import read_labelled_sentences
    from rnnkit.errors import DataError

    path = tmp_path / "nel.tsv"
    path.write_text("pos\ta fine\u0085film\u2028indeed\nneg\ta dull one\n\nbroken line without a tab\n",
                    encoding="utf-8")
    with pytest.raises(DataError, match="line 4: expected"):  # numbered as in the file (the blank line counts)
        read_labelled_sentences(path)
    path.write_text("pos\ta fine\u0085film\u2028indeed\nneg\ta dull one\n", encoding="utf-8")
    sentences, labels, _ = read_labelled_sentences(path)
    assert sentences == ["a fine\u0085film\u2028indeed", "a dull one"] and labels == ["pos", "neg"]
