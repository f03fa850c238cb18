"""Piano rolls: readers by hand, MIDI round trip, the model's NLL, a tiny model that learns,
and the CLI writing a MIDI file that parses back."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli.main import app
from rnnkit.data.music import N_KEYS, read_jsb_json, read_midi, read_music, read_npz, roll_from_steps, write_midi
from rnnkit.errors import DataError
from rnnkit.models.music_model import PolyphonicModel, PolyphonicModelConfig
from rnnkit.tasks import music

runner = CliRunner()


def chorale(n_steps=16, shift=0):
    """A repeating four-chord progression (C, F, G, C), each chord held two steps."""
    chords = [[48, 60, 64, 67], [53, 60, 65, 69], [55, 62, 67, 71], [48, 60, 64, 67]]
    return [[p + shift for p in chords[(t // 2) % 4]] for t in range(n_steps)]


@pytest.fixture
def jsb_file(tmp_path):
    data = {"train": [chorale(16, s) for s in (0, 2, -1, 1, 0, 3)], "valid": [chorale(16, 0)],
            "test": [chorale(12, 2), chorale(8, 0)]}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    return path


def test_roll_from_steps_by_hand():
    roll = roll_from_steps([[21, 108], [], [60.0, float("nan")]])
    assert roll.shape == (3, N_KEYS)
    assert roll[0].nonzero()[0].tolist() == [0, 87] and not roll[1].any() and roll[2].nonzero()[0].tolist() == [39]
    with pytest.raises(DataError, match="outside the piano"):
        roll_from_steps([[20]])


def test_readers(jsb_file, tmp_path):
    splits = read_jsb_json(jsb_file)
    assert [len(splits[k]) for k in ("train", "valid", "test")] == [6, 1, 2]
    assert splits["test"][0].shape == (12, N_KEYS) and splits["test"][0].sum(1).tolist() == [4.0] * 12
    pieces = np.empty(1, dtype=object)
    pieces[0] = np.array([[74, 70, 65, np.nan], [74, 70, 65, 58]], dtype=np.float64)
    np.savez(tmp_path / "c.npz", train=pieces, valid=pieces, test=pieces)
    z = read_npz(tmp_path / "c.npz")
    assert z["train"][0].sum(1).tolist() == [3.0, 4.0]
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not a JSON file"):
        read_jsb_json(tmp_path / "bad.json")
    (tmp_path / "c.txt").write_text("60 64 67")
    with pytest.raises(DataError, match="expected a .json"):
        read_music(tmp_path / "c.txt")


def test_midi_round_trip(tmp_path):
    pytest.importorskip("mido")
    roll = roll_from_steps(chorale(8) + [[]] + [[60]] * 3)
    path = write_midi(roll, tmp_path / "x.mid", steps_per_quarter=1)
    back = read_midi(path, steps_per_quarter=1)
    np.testing.assert_array_equal(back, roll[:len(back)])
    assert len(back) == len(roll)
    assert read_music(tmp_path, steps_per_quarter=1)["train"][0].shape == roll.shape  # a folder of MIDI files
    (tmp_path / "junk.mid").write_bytes(b"MThd garbage")
    with pytest.raises(DataError, match="not a readable MIDI file"):
        read_midi(tmp_path / "junk.mid")


def test_nll_is_the_sum_of_key_cross_entropies_over_real_steps():
    torch.manual_seed(0)
    model = PolyphonicModel(PolyphonicModelConfig(hidden_size=8)).eval()
    a = torch.from_numpy(roll_from_steps(chorale(5)))
    b = torch.from_numpy(roll_from_steps(chorale(3, 2)))
    batch = torch.zeros(2, 5, N_KEYS)
    batch[0], batch[1, :3] = a, b
    nll = model.step_nll(batch, torch.tensor([5, 3]))
    assert (nll[1, 3:] == 0).all()
    alone = model.step_nll(b[None], torch.tensor([3]))
    torch.testing.assert_close(nll[1, :3], alone[0])  # padding changes nothing
    logits, _ = model(torch.cat([torch.zeros(1, 1, N_KEYS), a[None, :-1]], 1))
    p = torch.sigmoid(logits[0])
    manual = -(a * torch.log(p) + (1 - a) * torch.log(1 - p)).sum(-1)
    torch.testing.assert_close(nll[0], manual, rtol=1e-4, atol=1e-4)


def test_a_tiny_model_learns_the_progression(jsb_file, tmp_path):
    settings = music.MusicSettings(str(jsb_file), hidden_size=32, epochs=150, batch_size=3, lr=1e-2, progress=False,
                                   device="cpu", early_stopping=None)
    result = music.train(settings, tmp_path / "run")
    model = music.load(result.best_checkpoint)
    scores = model.evaluate(read_jsb_json(jsb_file)["test"])
    # chance (every key at 1/2) is 88 ln 2 = 61 nats per step; the progression is nearly deterministic
    assert scores["nll"] < 6.0 and scores["frame_accuracy"] > 0.6, scores
    prime = roll_from_steps(chorale(4))
    roll = model.generate(12, prime, temperature=0.5, seed=0)
    assert roll.shape == (16, N_KEYS) and np.array_equal(roll[:4], prime)
    assert np.array_equal(roll, model.generate(12, prime, temperature=0.5, seed=0))  # seeded
    assert 2 <= roll[4:].sum(1).mean() <= 6


def test_cli_train_evaluate_generate(jsb_file, tmp_path):
    pytest.importorskip("mido")
    import mido

    out = tmp_path / "run"
    r = runner.invoke(app, ["music", "train", str(jsb_file), "--hidden", "16", "--epochs", "3", "--quiet",
                            "--device", "cpu", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "test: NLL per step" in r.output and (out / "test_report.json").exists()
    # beside the model, the Markov chain per key on the same pieces, and a verdict
    base = json.loads((out / "test_report.json").read_text())["test"]["baseline"]
    assert base["nll"] > 0 and "baseline, each key repeats its own previous step" in " ".join(r.output.split())
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0
    assert "PolyphonicModel" in (out / "report.html").read_text() and "test / nll" in (out / "report.html").read_text()
    r = runner.invoke(app, ["music", "evaluate", str(out / "best.safetensors"), str(jsb_file), "--split", "valid"])
    assert r.exit_code == 0 and "NLL per step" in r.output, r.output
    midi = tmp_path / "gen.mid"
    r = runner.invoke(app, ["music", "generate", str(out / "best.safetensors"), "--output", str(midi), "--length",
                            "16", "--prime", str(jsb_file), "--prime-steps", "2", "--seed", "1"])
    assert r.exit_code == 0, r.output
    parsed = mido.MidiFile(str(midi))  # parses back
    assert sum(1 for m in parsed.tracks[0] if m.type == "note_on") > 0
    assert read_midi(midi, steps_per_quarter=1).shape[1] == N_KEYS


def test_cli_errors(tmp_path, jsb_file):
    (tmp_path / "bad.safetensors").write_bytes(b"nope")
    cases = [(["music", "train", str(tmp_path / "none.json")], "no such file"),
             (["music", "train", str(tmp_path / "x.csv")], "no such file"),
             (["music", "evaluate", str(tmp_path / "bad.safetensors"), str(jsb_file)], "error:"),
             (["music", "generate", str(tmp_path / "bad.safetensors")], "error:")]
    for args, needle in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and needle in r.output and "Traceback" not in r.output, (args, r.output)
