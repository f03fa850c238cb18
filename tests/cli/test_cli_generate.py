"""``rnnkit generate train|sample``: conditioned generation as its own command group, on real
temporary files; the run-folder rule applies as for every train command."""

from typer.testing import CliRunner

from rnnkit.cli.main import app

runner = CliRunner()


def test_generate_train_sample_and_refuse_existing_run(tmp_path):
    data = tmp_path / "sst.txt"
    data.write_text("1 a good film\n1 a fine movie\n0 a bad film\n0 a dull movie\n" * 10, encoding="utf-8")
    out = tmp_path / "run"
    r = runner.invoke(app, ["generate", "train", str(data), "--out", str(out), "--hidden", "8", "--epochs", "2",
                            "--quiet", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "rnnkit generate sample" in r.output and (out / "model.safetensors").exists()
    r = runner.invoke(app, ["generate", "sample", str(out / "model.safetensors"), "-c", "1", "-s", "3", "--seed", "0"])
    assert r.exit_code == 0, r.output
    assert len(r.output.splitlines()) == 3  # one line per sample (a sampled empty sentence is an empty line)
    r = runner.invoke(app, ["generate", "sample", str(out / "model.safetensors"), "-c", "maybe"])
    assert r.exit_code == 2 and "unknown condition" in r.output
    r = runner.invoke(app, ["generate", "train", str(data), "--out", str(out), "--quiet"])
    assert r.exit_code == 2 and "already holds a training run" in r.output
