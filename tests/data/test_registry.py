"""Datasets by name: fetched from a loopback server or a mirror folder, SHA-256 checked,
resumed, cached; data:NAME resolved; never the internet."""

import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

from rnnkit.data import registry as reg
from rnnkit.errors import ConfigError, DataError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with HTTP Range support (what resuming needs)."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if "Range" in self.headers:
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])
        self.server.requests.append(self.headers.get("Range"))


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A loopback server over an upstream folder, and a fake registry pointing at it."""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    files = {"train.txt": "the cat sat on the mat .\n" * 200, "valid.txt": "the cat sat .\n" * 20,
             "test.txt": "the mat .\n" * 20}
    for name, text in files.items():
        (upstream / name).write_text(text, encoding="utf-8")
    handler = lambda *a, **k: _RangeHandler(*a, directory=str(upstream), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    ds = reg.Dataset("toy", "a toy corpus", "CC0", "toy",
                     tuple(reg.RemoteFile(n, f"{url}/{n}", hashlib.sha256(t.encode()).hexdigest())
                           for n, t in files.items()),
                     {"train": "train.txt", "valid": "valid.txt", "test": "test.txt"})
    monkeypatch.setattr(reg, "registry", lambda: {"toy": ds})
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNKIT_DATA_MIRROR", raising=False)
    yield server, upstream, ds
    server.shutdown()


def test_fetch_checks_caches_and_resumes(served, tmp_path):
    server, upstream, ds = served
    folder = reg.data_dir() / "toy"
    folder.mkdir(parents=True)
    half = (upstream / "train.txt").read_bytes()[:1000]
    (folder / "train.txt.part").write_bytes(half)  # an interrupted download
    got = reg.fetch("toy")
    assert (got / "train.txt").read_bytes() == (upstream / "train.txt").read_bytes()
    assert "bytes=1000-" in server.requests  # resumed, not started over
    before = len(server.requests)
    reg.fetch("toy")
    assert len(server.requests) == before  # cached and checked: nothing fetched again
    assert reg.resolve("data:toy") == got / "train.txt"
    assert reg.resolve("data:toy:valid") == got / "valid.txt" == reg.resolve("data:toy", "valid")
    assert reg.resolve("data:toy/test.txt") == got / "test.txt"
    assert reg.resolve("plain/path.txt") == Path("plain/path.txt")
    (got / "test.txt").write_text("tampered")
    with pytest.raises(DataError, match="SHA-256 is not the published one"):
        reg.fetch("toy")


def test_damaged_download_offline_and_unknown_names(served, monkeypatch):
    server, upstream, ds = served
    (upstream / "valid.txt").write_text("changed upstream")
    with pytest.raises(DataError, match="valid.txt of toy: SHA-256 .* is not the published"):
        reg.fetch("toy")
    assert not list((reg.data_dir() / "toy").glob("*.part"))  # a damaged file is not kept
    dead = reg.Dataset("dead", "", "", "dead", (reg.RemoteFile("x.txt", "http://127.0.0.1:9/x.txt", "0" * 64),),
                       {"train": "x.txt"})
    monkeypatch.setattr(reg, "registry", lambda: {"dead": dead})
    with pytest.raises(DataError, match="offline\\? Put the files in a folder and set RNNKIT_DATA_MIRROR"):
        reg.fetch("dead")
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        reg.resolve("data:nope")
    with pytest.raises(ConfigError, match="has no 'dev'"):
        reg.resolve("data:dead:dev")


def test_a_mirror_folder_serves_first(served, tmp_path, monkeypatch):
    server, upstream, ds = served
    mirror = tmp_path / "mirror" / "toy"
    mirror.mkdir(parents=True)
    for f in ds.files:
        (mirror / f.name).write_bytes((upstream / f.name).read_bytes())
    monkeypatch.setenv("RNNKIT_DATA_MIRROR", str(tmp_path / "mirror"))
    reg.fetch("toy")
    assert server.requests == []  # nothing from the network


def test_lm_train_takes_a_dataset_by_name_with_its_splits(served, tmp_path):
    from typer.testing import CliRunner

    from rnnkit.cli.main import app

    r = CliRunner().invoke(app, ["lm", "train", "data:toy", "--level", "word", "--hidden", "8", "--layers", "1",
                                 "--bptt", "4", "--batch-size", "2", "--epochs", "1", "--quiet",
                                 "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    from rnnkit.tasks import lm

    settings = lm.load(tmp_path / "run" / "best.safetensors").settings_
    assert settings.train_files[0].endswith("toy/train.txt")
    assert settings.valid_file.endswith("toy/valid.txt") and settings.test_file.endswith("toy/test.txt")
    # commands that score a file take the dataset too: its test file, or the role named
    for spec, file in (("data:toy", "test.txt"), ("data:toy:valid", "valid.txt")):
        r = CliRunner().invoke(app, ["lm", "evaluate", str(tmp_path / "run" / "best.safetensors"), spec])
        assert r.exit_code == 0, r.output
        assert f"toy/{file}: " in r.output.replace("\n", "")
    # tuning on a dataset by name: the reproducing command names the dataset, which brings its splits
    pytest.importorskip("optuna")
    r = CliRunner().invoke(app, ["tune", "lm", "data:toy", "-n", "1", "--set", "epochs=1", "--set", "level=word",
                                 "--set", "bptt=4", "--set", "batch_size=2", "--space", "hidden_size=4:8",
                                 "--space", "num_layers=1", "-q", "--out", str(tmp_path / "study")],
                           env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    command = r.output.split("reproduce with:")[1].split()
    assert command[:4] == ["rnnkit", "lm", "train", "data:toy"] and "--test" not in command and "--valid" not in command
    from rnnkit.cli.common import scoring_path

    ds = reg.registry()["toy"]
    only_train = reg.Dataset("one", "", "", "toy", ds.files, {"train": "train.txt"})
    reg_with_one = {"toy": ds, "one": only_train}
    import unittest.mock

    with unittest.mock.patch.object(reg, "registry", lambda: reg_with_one):
        assert scoring_path("data:one").name == "train.txt"  # no test split: its only file
        assert scoring_path("data:toy").name == "test.txt" and scoring_path("x/y.txt") == Path("x/y.txt")


def test_the_registry_is_well_formed_and_matches_the_shared_copies():
    known = reg.registry()
    assert {"ptb", "tinyshakespeare", "etth1", "pjm", "jsb", "ud-ewt", "sst2", "multi30k", "imdb", "fsdd",
            "ucr/Coffee"} <= set(known)
    assert len(known["fsdd"].files) == 3000
    for name, ds in known.items():
        names = {f.name for f in ds.files}
        for file in ds.roles.values():  # a file, a folder of files, or a table written from them
            assert file in names or file in ds.derived or any(n.startswith(file + "/") for n in names)
        assert not ds.derived or ds.builder in reg.BUILDERS
        for f in ds.files:
            assert (f.url.startswith("https://") or (not f.url and name == "imdb")) and len(f.sha256) == 64
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    os.environ.pop("RNNKIT_DATA_MIRROR", None)
    for name in ("ptb", "etth1", "ucr/Coffee", "fsdd"):
        ds = known[name]
        for f in ds.files:
            local = SHARED / ds.mirror_folder / f.name
            assert hashlib.sha256(local.read_bytes()).hexdigest() == f.sha256, local


def test_fsdd_comes_with_transcript_tables_a_recogniser_trains_on(tmp_path, monkeypatch):
    """FSDD is a folder of recordings named by digit; fetching it writes its standard split as
    two tables, so `recognize train --train data:fsdd` runs as on any table (test split along)."""
    from typer.testing import CliRunner

    from helpers import fake_fsdd
    from rnnkit.cli.main import app

    mirror = tmp_path / "mirror" / "digits"
    mirror.mkdir(parents=True)
    fake_fsdd(mirror / "recordings")
    files = tuple(reg.RemoteFile(f"recordings/{p.name}", "", hashlib.sha256(p.read_bytes()).hexdigest())
                  for p in sorted((mirror / "recordings").glob("*.wav")))
    ds = reg.Dataset("digits", "spoken digits", "CC BY-SA 4.0", "digits", files,
                     {"train": "train.csv", "test": "test.csv", "recordings": "recordings"},
                     ("train.csv", "test.csv"), "fsdd_tables")
    monkeypatch.setattr(reg, "registry", lambda: {"digits": ds})
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("RNNKIT_DATA_MIRROR", str(tmp_path / "mirror"))
    assert reg.resolve("data:digits") == tmp_path / "cache" / "digits" / "train.csv"
    assert reg.resolve("data:digits:test").read_text().startswith("file,text\nrecordings/0_ann_0.wav,0\n")
    assert reg.resolve("data:digits:recordings").is_dir()
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["recognize", "train", "--train", "data:digits", "--hidden", "8", "--layers", "1",
                                 "--epochs", "1", "--n-mels", "20", "-o", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "test: CER" in r.output and (out / "test_transcripts.csv").exists()  # data:digits brought its test
    r = CliRunner().invoke(app, ["recognize", "evaluate", str(out / "model.safetensors"), "data:digits"])
    assert r.exit_code == 0 and "CER" in r.output, r.output  # evaluate reads the dataset's test table


def test_conditioned_generation_through_lm_train_takes_a_dataset_by_name(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from rnnkit.cli.main import app

    mirror = tmp_path / "mirror" / "moods"
    mirror.mkdir(parents=True)
    (mirror / "train.txt").write_text("".join(f"{i % 2} a {'good' if i % 2 else 'bad'} film\n" for i in range(40)))
    (mirror / "dev.txt").write_text("1 a good film\n0 a bad film\n")
    files = tuple(reg.RemoteFile(n, "", hashlib.sha256((mirror / n).read_bytes()).hexdigest())
                  for n in ("train.txt", "dev.txt"))
    ds = reg.Dataset("moods", "", "", "moods", files, {"train": "train.txt", "valid": "dev.txt"})
    monkeypatch.setattr(reg, "registry", lambda: {"moods": ds})
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("RNNKIT_DATA_MIRROR", str(tmp_path / "mirror"))
    r = CliRunner().invoke(app, ["lm", "train", "--condition-col", "label", "data:moods", "--hidden", "8",
                                 "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    assert "best validation loss" in " ".join(r.output.split())  # data:moods brought its dev file


def test_data_list_shows_a_folder_of_many_files_in_a_few_words():
    from typer.testing import CliRunner

    from rnnkit.cli.data import _files
    from rnnkit.cli.main import app

    assert _files(reg.registry()["fsdd"]) == "recordings/ (3,000 files), train.csv, test.csv (written from them)"
    assert _files(reg.registry()["ptb"]) == "ptb.train.txt, ptb.valid.txt, ptb.test.txt"
    r = CliRunner().invoke(app, ["data", "list"])
    assert r.exit_code == 0, r.output
    assert "0_george_0.wav" not in r.output  # the 3,000 names are not listed
