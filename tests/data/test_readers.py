"""UCR .tsv/.ts, labelled sentences and CoNLL(-U) readers on hand-made files (and real ones if present)."""

import numpy as np
import pytest

from rnnkit.data.conll import read_conll
from rnnkit.data.labelled_text import read_labelled_sentences
from rnnkit.data.ucr import read_series_file, read_ts, read_ucr_tsv
from rnnkit.errors import DataError


def test_ucr_tsv_variable_length_and_labels(tmp_path):
    p = tmp_path / "Toy_TRAIN.tsv"
    p.write_text("1\t0.5\t1.5\t2.5\n2.0\t3\t4\tNaN\n-1\t7\tNaN\tNaN\n")
    d = read_ucr_tsv(p)
    assert d.name == "Toy" and d.labels == ["1", "2", "-1"]
    assert d.lengths.tolist() == [3, 2, 1] and d.channels == 1
    X, lengths = d.padded()
    assert X.shape == (3, 3, 1) and X[1, :, 0].tolist() == [3, 4, 0] and lengths.tolist() == [3, 2, 1]


def test_ucr_tsv_interior_gaps_and_bad_values(tmp_path):
    p = tmp_path / "gap.tsv"
    p.write_text("1\t1\tNaN\t3\n")
    with pytest.raises(DataError, match="missing values inside the series"):
        read_ucr_tsv(p)
    assert read_ucr_tsv(p, missing="interpolate").series[0][:, 0].tolist() == [1, 2, 3]
    p.write_text("1\t1\tabc\t3\n")
    with pytest.raises(DataError, match=r"line 1: non-numeric value 'abc'"):
        read_ucr_tsv(p)


TS = """# a comment
@problemName Toy
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b
@data
1,2,3:4,5,6:a
7,8:9,?:b
"""


def test_ts_multivariate_unequal_length(tmp_path):
    p = tmp_path / "Toy_TRAIN.ts"
    p.write_text(TS.replace("9,?", "9,10"))
    d = read_series_file(p)
    assert d.name == "Toy" and d.labels == ["a", "b"] and d.channels == 2
    assert d.series[0].tolist() == [[1, 4], [2, 5], [3, 6]] and d.series[1].shape == (2, 2)


def test_ts_errors(tmp_path):
    p = tmp_path / "bad.ts"
    p.write_text(TS.replace("9,?", "9,10").replace("7,8:", "7,8:1:"))
    with pytest.raises(DataError, match="3 dimensions, earlier cases have 2"):
        read_ts(p)
    p.write_text("1,2,3\n")
    with pytest.raises(DataError, match="expected an @ header line"):
        read_ts(p)
    with pytest.raises(DataError, match="unknown series format"):
        read_series_file(tmp_path / "x.json")


def test_labelled_sentences_tab_and_sst_style(tmp_path):
    p = tmp_path / "a.tsv"
    p.write_text("pos\tgreat film .\nneg\tdull\n")
    assert read_labelled_sentences(p) == (["great film .", "dull"], ["pos", "neg"], "first")
    p = tmp_path / "stsa.binary.train"
    p.write_text("1 a stirring , funny film\n0 dull .\n")
    assert read_labelled_sentences(p) == (["a stirring , funny film", "dull ."], ["1", "0"], "first")
    p.write_text("1\n")
    with pytest.raises(DataError, match="line 1: expected 'label sentence'"):
        read_labelled_sentences(p)


CONLLU = """# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t4:conj\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def test_conllu_skips_multiword_and_empty_nodes(tmp_path):
    p = tmp_path / "toy.conllu"
    p.write_text(CONLLU)
    words, tags = read_conll(p)
    assert words == [["I", "do", "n't", "know", "."], ["Hi"]]
    assert tags == [["PRON", "AUX", "PART", "VERB", "PUNCT"], ["INTJ"]]
    assert read_conll(p, tag="xpos")[1][0] == ["PRP", "VBP", "RB", "VB", "."]


def test_plain_conll_and_errors(tmp_path):
    p = tmp_path / "toy.conll"
    p.write_text("EU B-ORG\nrejects O\n\nPeter B-PER\n")
    assert read_conll(p) == ([["EU", "rejects"], ["Peter"]], [["B-ORG", "O"], ["B-PER"]])
    p = tmp_path / "bad.conllu"
    p.write_text("1\tI\tPRON\n")
    with pytest.raises(DataError, match="10 tab-separated columns, got 3"):
        read_conll(p)


def test_real_ucr_files_when_present(shared_data):
    coffee = shared_data / "ucr" / "Coffee" / "Coffee_TRAIN.tsv"
    if not coffee.exists():
        pytest.skip("UCR Coffee not present")
    d = read_ucr_tsv(coffee)
    assert len(d) == 28 and set(d.labels) == {"0", "1"} and d.lengths.tolist() == [286] * 28
    gestures = shared_data / "ucr" / "AllGestureWiimoteX" / "AllGestureWiimoteX_TRAIN.tsv"
    if gestures.exists():
        g = read_ucr_tsv(gestures)
        assert len(g) == 300 and g.lengths.min() < g.lengths.max() <= 500  # NaN-padded, variable length
        assert not any(np.isnan(s).any() for s in g.series)


@pytest.mark.slow
def test_real_ud_english_ewt_counts(shared_data):
    path = shared_data / "ud-english-ewt" / "en_ewt-ud-train.conllu"
    if not path.exists():
        pytest.skip("UD English EWT not present")
    words, tags = read_conll(path)
    assert len(words) == 12544 and all(len(w) == len(t) for w, t in zip(words, tags))


def test_an_unparsable_table_is_one_line_for_every_table_reader(tmp_path):
    from rnnkit.data.conditioned_text import read_conditioned_text
    from rnnkit.data.recognition_files import read_transcripts
    from rnnkit.data.text_column import read_text_column

    bad = tmp_path / "bad.csv"
    bad.write_text('file,text,label\na.wav,"unclosed,1\nb.wav,x,1,2,3,4\n')
    for read in (lambda: read_transcripts(bad), lambda: read_text_column(bad, "text"),
                 lambda: read_conditioned_text(bad)):
        with pytest.raises(DataError, match="bad.csv is not a readable table") as e:
            read()
        assert "\n" not in str(e.value)
