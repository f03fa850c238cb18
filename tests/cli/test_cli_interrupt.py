"""Ctrl-C (or SIGTERM) during `rnnkit lm train` in a real process: saved, exit 130, and --resume
continues; a log line cut short by a kill and orphaned temporary files do not stop it."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rnnkit.training.checkpoint import load_checkpoint


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stop_signal_saves_and_resume_continues(tmp_path, signum):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a quick brown fox jumps over the lazy dog\n" * 400)
    out = tmp_path / "run"
    env = {**os.environ, "RNNKIT_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "rnnkit.cli.main", "lm", "train", str(corpus), "--out", str(out), "--hidden", "32",
           "--layers", "1", "--bptt", "16", "--batch-size", "4", "--epochs", "1000", "--checkpoint-every", "0",
           "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and metrics.stat().st_size > 0):
        time.sleep(0.2)
    assert metrics.exists(), "training never started"
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "resume with: rnnkit lm train --resume" in output and "Traceback" not in output
    step = load_checkpoint(out / "last.safetensors").meta["trainer"]["global_step"]
    assert step > 0
    with metrics.open("a") as f:
        f.write('{"kind": "train", "step": 99')  # a record a kill cut short
    orphan = out / ".last.safetensors.abc123.tmp"
    orphan.write_bytes(b"half a checkpoint")

    resumed = subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "lm", "train", "--resume", "--out", str(out),
                              "--epochs", "1000", "--max-steps", str(step + 3), "--quiet"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "max_steps reached" in resumed.stdout
    steps = [json.loads(x)["step"] for x in metrics.read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == step + 3  # one continuous log, no duplicates
    assert not orphan.exists()
    mode = (out / "last.safetensors").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # as any file the user creates, not mkstemp's 0600
