"""rnnkit report and rnnkit inspect activations on a real (tiny) run; pages render in Chromium."""

import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from rnnkit.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    corpus = root / "c.txt"
    corpus.write_text('def f(x):\n    return "(x)"\n' * 80, encoding="utf-8")
    r = runner.invoke(app, ["lm", "train", str(corpus), "--out", str(root / "run"), "--hidden", "16", "--layers", "2",
                            "--bptt", "16", "--batch-size", "4", "--epochs", "2", "--quiet", "--device", "cpu",
                            "--monitor-gradients", "5"])
    assert r.exit_code == 0, r.output
    return root / "run"


def test_report_page(lm_run):
    r = runner.invoke(app, ["report", str(lm_run)])
    assert r.exit_code == 0, r.output
    page = (lm_run / "report.html").read_text()
    for needle in ('id="summary"', 'id="configuration"', 'id="validation"', "Training curves",
                   "Gradient flow through time", "data:image/png;base64,", "LanguageModel", 'id="samples"'):
        assert needle in page, needle
    assert page.count('<pre class="sample">') == 3
    r = runner.invoke(app, ["report", str(lm_run / "missing")])
    assert r.exit_code == 2 and "not a run folder" in r.output


def test_activations_page(lm_run, tmp_path):
    out = tmp_path / "a.html"
    r = runner.invoke(app, ["inspect", "activations", str(lm_run / "best.safetensors"), "--text",
                            'def f(x):\n    return "(x)"\n', "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "forget gate" in r.output and out.exists()
    # a character the model never saw is left out, and said; a text of nothing but those is an error
    r = runner.invoke(app, ["inspect", "activations", str(lm_run / "best.safetensors"), "--text", "def ~",
                            "--out", str(out)])
    text = " ".join(r.output.split())  # at any terminal width
    assert r.exit_code == 0 and "left out 1 character the model never saw in training ('~')" in text, r.output
    r = runner.invoke(app, ["inspect", "activations", str(lm_run / "best.safetensors"), "--text", "~~"])
    assert r.exit_code == 2 and "error: no character of the text is in the model's vocabulary" in " ".join(
        r.output.split())


def _dom(path):
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        pytest.skip("no headless Chromium here (apt-get install chromium)")
    result = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", path.as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    return result.stdout


@pytest.mark.slow
def test_pages_render_in_headless_chromium(lm_run, tmp_path):
    runner.invoke(app, ["report", str(lm_run)])
    dom = _dom(lm_run / "report.html")
    assert "Training curves" in dom and "<img" in dom
    out = tmp_path / "a.html"
    runner.invoke(app, ["inspect", "activations", str(lm_run / "best.safetensors"), "--text", "def f(x):\n",
                        "--out", str(out)])
    dom = _dom(out)
    assert 'data-ready="1"' in dom  # the page's script ran to the end without an error
    assert "<span" in dom and "background" in dom and "units" in dom
