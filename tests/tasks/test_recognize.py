"""The CTC recogniser: it learns unaligned transcripts, streams what it transcribes whole,
refuses impossible input in one line, and runs from files on the command line (generated
WAVs and rendered line images)."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from helpers import ctc_utterances, write_wav
from rnnkit.cli.main import app
from rnnkit.data.recognition_files import image_frames, read_transcripts
from rnnkit.data.text_lines import render_line, system_fonts
from rnnkit.errors import ConfigError, DataError
from rnnkit.models import CTCRecognizer, CTCRecognizerConfig
from rnnkit.tasks.recognize import Recognizer, min_ctc_steps

runner = CliRunner()
ALPHABET = "abc "


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))


def synthetic(n: int, seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """Utterances of 2-5 of the characters a, b, c (8 features a frame)."""
    return ctc_utterances(n, seed)


@pytest.fixture(scope="module")
def unidirectional():
    X, y = synthetic(160)
    return Recognizer(hidden_size=32, num_layers=1, bidirectional=False, epochs=30, seed=0).fit(X, y), X, y


def test_min_ctc_steps_counts_a_blank_between_repeats():
    assert min_ctc_steps([1, 2, 3]) == 3 and min_ctc_steps([1, 1, 2, 2, 2]) == 8 and min_ctc_steps([]) == 0


def test_it_learns_unaligned_transcripts(unidirectional):
    rec, X, y = unidirectional
    result = rec.evaluate(X[:60], y[:60])
    assert result["cer"] < 0.1, result
    assert set(rec.alphabet_) == set("abc")


def test_a_stream_saved_mid_utterance_and_loaded_elsewhere_goes_on_the_same(unidirectional):
    rec, X, _ = unidirectional
    for x in X[:5]:
        whole = rec.transcribe([x])[0]
        first = rec.stream()
        cut = len(x) // 2 | 1  # odd: a frame waits for its stack partner in the saved state
        head = first.push(x[:cut])
        saved = {k: v.copy() for k, v in first.state_dict().items()}
        assert saved["pending"].shape == (1, 1, x.shape[1]) and saved["s0"].shape[1] == 1
        second = rec.stream()
        second.load_state_dict(saved)
        assert head + second.push(x[cut:]) + second.finish() == whole
        twin = first.copy()  # a copy goes on alone, the original is untouched
        assert twin.push(x[cut:]) + twin.finish() == first.push(x[cut:]) + first.finish()


def test_streaming_gives_the_text_of_the_whole_utterance(unidirectional):
    rec, X, _ = unidirectional
    stream = rec.stream()
    for x in X[:10]:
        whole = rec.transcribe([x])[0]
        for chunk in (1, 3, 7):  # frames arriving one at a time, in threes (not a multiple of 2), in sevens
            text = "".join(stream.push(x[i:i + chunk]) for i in range(0, len(x), chunk)) + stream.finish()
            assert text == whole


def test_beam_search_with_an_ngram_and_save_load(tmp_path, unidirectional):
    rec, X, y = unidirectional
    rec.save(tmp_path / "r.safetensors")
    again = Recognizer.load(tmp_path / "r.safetensors")
    assert again.transcribe(X[:8]) == rec.transcribe(X[:8])
    again.set_params(beam=8)
    assert again.evaluate(X[:40], y[:40])["cer"] <= rec.evaluate(X[:40], y[:40])["cer"] + 0.05
    with_lm = Recognizer(hidden_size=16, num_layers=1, epochs=2, lm_order=3, beam=4).fit(X[:40], y[:40])
    assert with_lm.lm_ is not None and len(with_lm.transcribe(X[:3])) == 3


@pytest.mark.parametrize("front_end", ["conv", "conv2d"])
def test_bidirectional_conv_front_ends_train_and_refuse_to_stream(front_end):
    X, y = synthetic(40, seed=1)
    rec = Recognizer(hidden_size=16, num_layers=1, front_end=front_end, subsample=2, conv_channels=16,
                     epochs=2).fit(X, y)
    assert len(rec.transcribe(X[:2])) == 2
    with pytest.raises(ConfigError, match="cannot stream"):
        rec.stream()


def test_front_end_output_lengths_match_the_model():
    for front, s in (("conv", 2), ("conv2d", 1), ("conv2d", 2), ("conv2d", 3), ("conv2d", 4), ("stack", 3),
                     ("none", 1)):
        for features in (4, 5):
            model = CTCRecognizer(CTCRecognizerConfig(input_size=features, num_labels=3, hidden_size=4, num_layers=1,
                                                      front_end=front, subsample=s, conv_channels=6))
            for t in (1, 2, 5, 6, 7, 9):
                out, lengths = model(torch.zeros(1, t, features))
                assert out.shape[1] == int(lengths[0]) == int(model.output_lengths(torch.tensor([t]))[0])


def test_conv2d_front_end_reads_a_pattern_wherever_it_sits_along_the_features():
    """Shifting the input by 4 features (two stride-2 layers) shifts the feature map by one row:
    the same filters respond, which a 1-D convolution over the features cannot do."""
    torch.manual_seed(0)
    model = CTCRecognizer(CTCRecognizerConfig(input_size=16, num_labels=3, hidden_size=4, num_layers=1,
                                              front_end="conv2d", subsample=2, conv_channels=8))
    front = model.conv2d
    assert front is not None and front.output_size == 8 * 4
    x = torch.zeros(1, 10, 16)
    x[0, 3:6, 4:7] = 3 * torch.randn(3, 3)
    shifted = torch.roll(x, 4, dims=2)
    a = front(x).reshape(1, 5, 8, 4)  # (B, T', channels, rows)
    b = front(shifted).reshape(1, 5, 8, 4)
    # rows 1-2 of the map see input rows 1-7, away from the zero padding at the edges
    assert torch.allclose(a[..., 1:3], b[..., 2:4], atol=1e-6)
    assert not torch.allclose(a[..., 1:3], front(torch.zeros(1, 10, 16)).reshape(1, 5, 8, 4)[..., 1:3])


def test_impossible_input_is_refused_in_one_line():
    X, y = synthetic(20)
    short = [np.zeros((3, 8), dtype=np.float32)] + X[1:]
    with pytest.raises(DataError, match="utterance 0: too short for its transcript"):
        Recognizer(subsample=2, epochs=1).fit(short, ["aab"] + y[1:])
    with pytest.raises(DataError, match="utterance 2: empty transcript"):
        Recognizer(epochs=1).fit(X, y[:2] + [""] + y[3:])
    with pytest.raises(DataError, match="validation frames have 3 features"):
        Recognizer(epochs=1).fit(X, y, [np.zeros((30, 3), dtype=np.float32)], ["ab"])
    rec = Recognizer(hidden_size=8, num_layers=1, epochs=1).fit(X, y)
    with pytest.raises(DataError, match="outside the model's alphabet"):
        rec._labels(["abz"])
    with pytest.raises(DataError, match="features"):
        rec.transcribe([np.zeros((10, 3), dtype=np.float32)])
    with pytest.raises(DataError, match="non-finite|infinite|NaN|not finite"):
        rec.transcribe([np.full((10, 8), np.inf, dtype=np.float32)])


# ------------------------------------------------------------------ files and the CLI
TONES = {"a": 440.0, "b": 880.0, "c": 1320.0}


def tone_utterance(text: str, rng: np.random.Generator, rate: int = 8000) -> np.ndarray:
    pieces = []
    for c in text:
        n = int(rate * rng.uniform(0.06, 0.1))
        pieces += [0.5 * np.sin(2 * np.pi * TONES[c] * np.arange(n) / rate), np.zeros(int(rate * 0.03))]
    return np.concatenate([np.zeros(int(rate * 0.03)), *pieces]).astype(np.float32)


def test_recognize_commands_on_generated_wavs(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        text = "".join(rng.choice(list("abc"), int(rng.integers(1, 4))))
        write_wav(tmp_path / f"u{i}.wav", tone_utterance(text, rng), 16000 if i == 0 else 8000)  # one to resample
        rows.append(f"u{i}.wav,{text}")
    (tmp_path / "train.csv").write_text("file,text\n" + "\n".join(rows[:32]) + "\n")
    (tmp_path / "test.csv").write_text("file,text\n" + "\n".join(rows[32:]) + "\n")
    out = tmp_path / "run"
    r = runner.invoke(app, ["recognize", "train", "--train", str(tmp_path / "train.csv"), "--test",
                            str(tmp_path / "test.csv"), "--hidden", "16", "--layers", "1", "--epochs", "3",
                            "--n-mels", "20", "-o", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "CER" in r.output and (out / "test_transcripts.csv").exists()
    assert "transcribe with: rnnkit recognize transcribe" in " ".join(r.output.split())
    assert json.loads((out / "test_report.json").read_text())["chars"] > 0
    fitted = Recognizer.load(out / "model.safetensors")
    # audio by default: stacked pairs of frames (it streams), level-normalised frames
    assert (fitted.model_.config.front_end, fitted.model_.config.subsample) == ("stack", 2)
    assert fitted.frame_spec_.normalise == "level"
    from rnnkit.serving.served import ServedModel

    served = ServedModel("digits", fitted)
    described = served.describe()  # a server says how its frames are made, and reads files sent to it
    assert described["frames_from"]["normalise"] == "level" and described["frames_from"]["n_mels"] == 20
    import base64

    from rnnkit.serving.served import InputError

    sent = [{"name": f"u{i}.wav", "base64": base64.b64encode((tmp_path / f"u{i}.wav").read_bytes()).decode()}
            for i in (33, 34)]
    got = served.predict({"files": sent})["transcripts"]
    assert got == fitted.transcribe_files([tmp_path / "u33.wav", tmp_path / "u34.wav"])
    for files, field, message in (([{"name": "x.wav", "base64": "@@"}], "files[0]", "not valid base64"),
                                  ([{"name": "noext", "base64": ""}], "files[0]", "no file extension"),
                                  ([{"name": "x.wav", "base64": base64.b64encode(b"junk").decode()}], "files[0]",
                                   "x.wav is not a readable PCM WAV"),
                                  ("x", "files", "non-empty list")):
        with pytest.raises(InputError, match=message) as caught:
            served.predict({"files": files})
        assert caught.value.field == field and "rnnkit-serve-" not in str(caught.value)
    r = runner.invoke(app, ["recognize", "transcribe", str(out / "model.safetensors"), str(tmp_path / "u33.wav")])
    assert r.exit_code == 0 and "u33.wav\t" in r.output
    r = runner.invoke(app, ["recognize", "evaluate", str(out / "model.safetensors"), str(tmp_path / "test.csv"),
                            "--beam", "4"])
    assert r.exit_code == 0 and "WER" in r.output
    r = runner.invoke(app, ["recognize", "evaluate", str(out / "model.safetensors"), str(tmp_path / "test.csv"),
                            "-o", str(tmp_path / "eval")])
    assert r.exit_code == 0 and (tmp_path / "eval" / "eval_transcripts.csv").exists()
    assert json.loads((tmp_path / "eval" / "eval_report.json").read_text())["chars"] > 0
    # bad input: a missing file, an empty transcript, an unreadable recording, each named
    (tmp_path / "bad1.csv").write_text("file,text\nnothere.wav,abc\n")
    (tmp_path / "bad2.csv").write_text("file,text\nu1.wav,\n")
    (tmp_path / "junk.wav").write_bytes(b"not a wav at all")
    (tmp_path / "bad3.csv").write_text("file,text\njunk.wav,abc\n")
    for table, message in (("bad1.csv", "no such file 'nothere.wav'"), ("bad2.csv", "empty transcript for u1.wav"),
                           ("bad3.csv", "junk.wav is not a readable PCM WAV")):
        r = runner.invoke(app, ["recognize", "train", "--train", str(tmp_path / table), "-o",
                                str(tmp_path / "x"), "--quiet"])
        assert r.exit_code != 0 and message in " ".join(r.output.split()) and "Traceback" not in r.output


@pytest.mark.skipif(not system_fonts(), reason="no TrueType fonts installed")
def test_recognize_train_on_rendered_line_images(tmp_path):
    rng = np.random.default_rng(0)
    font = system_fonts()[0]
    rows = []
    for i in range(24):
        text = " ".join(rng.choice(["ab", "ba", "cab", "c"], int(rng.integers(1, 3))))
        render_line(text, font, rng).save(tmp_path / f"l{i}.png")
        rows.append(f"l{i}.png\t{text}")
    (tmp_path / "lines.tsv").write_text("image\ttranscript\n" + "\n".join(rows) + "\n")
    files, texts = read_transcripts(tmp_path / "lines.tsv")
    assert image_frames(files[0], 32).shape[1] == 32
    r = runner.invoke(app, ["recognize", "train", "--train", str(tmp_path / "lines.tsv"), "--hidden", "16",
                            "--layers", "1", "--epochs", "2", "--conv-channels", "8", "-o", str(tmp_path / "run"),
                            "--quiet"])
    assert r.exit_code == 0, r.output
    assert "reads image as 32 features" in " ".join(r.output.split())
    # line images by default: CRNN's 2-D convolutional reader, 4 pixel columns per step
    config = Recognizer.load(tmp_path / "run" / "model.safetensors").model_.config
    assert (config.front_end, config.subsample) == ("conv2d", 4)
    r = runner.invoke(app, ["recognize", "train", "--train", str(tmp_path / "lines.tsv"), "--hidden", "16",
                            "--layers", "1", "--epochs", "1", "--front-end", "conv", "-o", str(tmp_path / "run1"),
                            "--quiet"])
    assert r.exit_code == 0, r.output
    config = Recognizer.load(tmp_path / "run1" / "model.safetensors").model_.config
    assert (config.front_end, config.subsample) == ("conv", 2)


def test_auto_front_end_and_its_help():
    X, y = synthetic(30, seed=2)
    for front_end, subsample, expected in (("auto", "auto", ("stack", 2)), ("none", "auto", ("none", 1)),
                                           ("conv2d", "auto", ("conv2d", 4)), ("auto", 3, ("stack", 3))):
        rec = Recognizer(hidden_size=8, num_layers=1, epochs=1, front_end=front_end, subsample=subsample).fit(X, y)
        assert (rec.model_.config.front_end, rec.model_.config.subsample) == expected
    for bad in (0, "2", 1.5):
        with pytest.raises(ConfigError, match="subsample"):
            Recognizer(subsample=bad).check_params()
    with pytest.raises(ConfigError, match="audio normalisation"):
        Recognizer(audio_norm="global").check_params()
    with pytest.raises(ConfigError, match="unknown front end 'conv3d'; choose one of auto, none, stack, conv, conv2d"):
        Recognizer(front_end="conv3d").check_params()
    r = runner.invoke(app, ["recognize", "train", "--help"], env={"COLUMNS": "200"})
    text = " ".join(r.output.split())
    assert "auto: conv2d for line images, stack for audio or frames" in text
    assert "auto: 4 for conv2d, 1 for none, 2 for stack or conv" in text


def test_a_recogniser_saved_before_level_normalisation_reads_audio_per_channel(tmp_path):
    from rnnkit.data.recognition_files import FrameSpec

    X, y = synthetic(20, seed=3)
    rec = Recognizer(hidden_size=8, num_layers=1, epochs=1).fit(X, y)
    rec.frame_spec_ = FrameSpec("audio")
    meta = rec._meta()
    assert meta["frame_spec"]["normalise"] == "level"
    del meta["frame_spec"]["normalise"]  # as written by rnnkit before the option existed
    rec._restore(meta)
    assert rec.frame_spec_.normalise == "channel"


def test_shallow_fusion_with_an_rnnkit_character_model(tmp_path, unidirectional):
    from rnnkit.tasks.lm import LanguageModeler
    from rnnkit.tasks.recognize import LanguageModelFusion

    rec, X, y = unidirectional
    (tmp_path / "t.txt").write_text("\n".join(y) + "\n", encoding="utf-8")
    lm = LanguageModeler(level="char", hidden_size=16, num_layers=1, epochs=1, batch_size=4, bptt=16).fit(
        str(tmp_path / "t.txt"))
    fusion = LanguageModelFusion(lm, rec.alphabet_)
    prefix = [1 + rec.alphabet_.index(c) for c in "ab"]
    ids = torch.tensor([[lm.vocab_.stoi[c] for c in "\nab"]])
    with torch.no_grad():
        expected = torch.log_softmax(lm.model_(ids)[0][0, -1], -1)[lm.vocab_.stoi["c"]]
    assert fusion.log_prob(prefix, 1 + rec.alphabet_.index("c")) == pytest.approx(float(expected), abs=1e-5)
    lm.save(tmp_path / "lm.safetensors")
    rec.set_params(beam=4, lm_path=str(tmp_path / "lm.safetensors"), lm_weight=0.3)
    try:
        assert rec.evaluate(X[:20], y[:20])["cer"] < 0.2
    finally:
        rec.set_params(beam=1, lm_path=None)


@pytest.mark.slow
def test_fsdd_single_digits_from_files_with_defaults(shared_data, tmp_path):
    """A new user's run: FSDD's recordings listed in two tables (its standard split), defaults,
    a few minutes on the CPU (measured: 99.7 % in under 2 minutes on 2 threads)."""
    folder = shared_data / "fsdd" / "recordings"
    if not folder.is_dir():
        pytest.skip("FSDD recordings not present")
    rows = {"train": ["file,text"], "test": ["file,text"]}
    for path in sorted(folder.glob("*.wav")):
        digit, _, index = path.stem.split("_")
        rows["test" if int(index) <= 4 else "train"].append(f"{path},{digit}")
    for split, lines in rows.items():
        (tmp_path / f"{split}.csv").write_text("\n".join(lines) + "\n")
    rec = Recognizer(spec_augment=True, max_time=300).fit_files(tmp_path / "train.csv")
    result = rec.evaluate_files(tmp_path / "test.csv")
    assert result["exact"] >= 0.95  # published CNN/LSTM classifiers: 97-99 %
