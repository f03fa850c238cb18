"""A data file must never run code: malicious .npz files are refused and their payload never
runs (in-process and through the CLI in a subprocess); honest object arrays still load."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.music import read_npz
from rnnkit.data.npz import read_npz_arrays
from rnnkit.errors import DataError

SHARED_NPZ = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.npz"


class Payload:
    """Unpickling this calls ``open(marker, "w")``: the file appearing proves code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickle_named_npz(tmp_path: Path, marker: Path) -> Path:
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"train": Payload(marker)}))
    return path


def npz_with_object_payload(tmp_path: Path, marker: Path) -> Path:
    """A genuine .npz whose object array carries the payload beside an honest piece."""
    pieces = np.empty(2, dtype=object)
    pieces[0] = np.array([[60.0, 64.0, 67.0, np.nan]])
    pieces[1] = Payload(marker)
    path = tmp_path / "evil_object.npz"
    np.savez(path, train=pieces, valid=pieces, test=pieces)
    assert not marker.exists()  # saving pickles the payload without running it
    return path


@pytest.mark.parametrize("make", [pickle_named_npz, npz_with_object_payload])
def test_malicious_npz_runs_nothing(tmp_path, make):
    marker = tmp_path / "pwned"
    path = make(tmp_path, marker)
    with pytest.raises(DataError):
        read_npz(path)
    assert not marker.exists()


def test_refusal_names_the_callable(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(DataError, match=r"refused: it asks to call (builtins|io)\.open"):
        read_npz_arrays(npz_with_object_payload(tmp_path, marker))


def train_args(tmp_path, path):
    return ["music", "train", str(path), "--epochs", "1", "--out", str(tmp_path / "run")]


def generate_args(tmp_path, path):
    ckpt = tiny_music_checkpoint(tmp_path)
    return ["music", "generate", str(ckpt), "--prime", str(path), "--output", str(tmp_path / "x.mid")]


@pytest.mark.parametrize("make", [pickle_named_npz, npz_with_object_payload])
@pytest.mark.parametrize("command", [train_args, generate_args])
def test_cli_on_malicious_npz_runs_nothing(tmp_path, make, command):
    marker = tmp_path / "pwned"
    args = command(tmp_path, make(tmp_path, marker))
    env = {**os.environ, "RNNKIT_CACHE": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-m", "rnnkit", *args], capture_output=True, text=True, cwd=tmp_path,
                       env=env, timeout=120)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout
    lines = [x for x in (r.stderr + r.stdout).splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    assert "evil" in lines[0]  # refused for the file, not for some other reason
    assert not marker.exists()


def tiny_music_checkpoint(tmp_path: Path) -> Path:
    import json

    from rnnkit.tasks import music

    piece = [[60, 64, 67]] * 8
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps({"train": [piece, piece], "valid": [piece], "test": [piece]}))
    settings = music.MusicSettings(data=str(data), hidden_size=8, epochs=1, device="cpu", progress=False)
    music.train(settings, tmp_path / "music_run")
    return tmp_path / "music_run" / "model.safetensors"


def test_honest_object_and_numeric_arrays_load(tmp_path):
    pieces = np.empty(2, dtype=object)
    pieces[0] = np.array([[74, 70, 65, np.nan], [74, 70, 65, 58]], dtype=np.float64)
    pieces[1] = np.array([[60, 64, 67, 72]], dtype=np.int64)
    np.savez(tmp_path / "c.npz", train=pieces, lengths=np.arange(3))
    z = read_npz_arrays(tmp_path / "c.npz")
    assert z["lengths"].tolist() == [0, 1, 2]
    assert np.array_equal(z["train"][0], pieces[0], equal_nan=True) and z["train"][1].tolist() == [[60, 64, 67, 72]]


def test_bad_archives_are_one_line_errors(tmp_path):
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DataError, match="not an .npz archive"):
        read_npz_arrays(tmp_path / "text.npz")
    with pytest.raises(DataError, match="no such file"):
        read_npz_arrays(tmp_path / "missing.npz")
    strings = np.empty(1, dtype=object)
    strings[0] = "a string, not an array"
    np.savez(tmp_path / "strings.npz", train=strings)
    with pytest.raises(DataError, match="other than numeric arrays"):
        read_npz_arrays(tmp_path / "strings.npz")


@pytest.mark.skipif(not SHARED_NPZ.exists(), reason="needs ../shared/data/jsb-chorales")
def test_coconet_file_matches_numpy_pickle_load():
    ours = read_npz_arrays(SHARED_NPZ)
    theirs = np.load(SHARED_NPZ, allow_pickle=True, encoding="latin1")  # trusted file, for the comparison only
    for split in ("train", "valid", "test"):
        assert len(ours[split]) == len(theirs[split])
        for a, b in zip(ours[split], theirs[split]):
            assert np.array_equal(a, b, equal_nan=True)
