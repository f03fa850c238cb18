"""Data parallelism under torchrun: 2 CPU processes (gloo) train to the same parameters as
one process with the same global batch, for truncated-BPTT streams (LM), padded
classification batches (with a last batch smaller than the ranks) and forecasting windows;
a run written by 2 ranks resumes in 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_worker.py")
pytestmark = pytest.mark.skipif(not dist.is_available(), reason="this torch has no torch.distributed")


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    return {**e, "OMP_NUM_THREADS": "1", "RNNKIT_PROGRESS_INTERVAL": "0"}


def run(family: str, run_dir: Path, nproc: int = 1, *extra: str, ok: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(WORKER), family, str(run_dir), *extra]
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               *cmd[1:]]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=300)
    if ok:
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return r


def weights(run_dir: Path, name: str = "last.safetensors") -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(str(run_dir / name)).items() if k.startswith("model/")}


def assert_same(a: dict, b: dict, tol: float = 1e-5) -> None:
    assert a.keys() == b.keys()
    worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a)
    assert worst <= tol, f"parameters differ by {worst:g}"


@pytest.mark.parametrize("family", ["lm", "classify", "forecast"])
def test_two_ranks_train_to_the_parameters_of_one(tmp_path, family):
    run(family, tmp_path / "one")
    run(family, tmp_path / "two", 2)
    assert_same(weights(tmp_path / "one"), weights(tmp_path / "two"))
    assert_same(weights(tmp_path / "one", "best.safetensors"), weights(tmp_path / "two", "best.safetensors"))
    # one log, rank 0's, with every rank's items per step
    one = (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()
    two = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    assert len(one) == len(two)


def test_a_run_of_one_process_resumes_in_two_ranks(tmp_path):
    run("lm", tmp_path / "whole", 1, "--max-steps", "6")
    run("lm", tmp_path / "split", 1, "--max-steps", "3")
    run("lm", tmp_path / "split", 2, "--resume", "--max-steps", "6")  # each rank takes its streams' state
    assert_same(weights(tmp_path / "whole"), weights(tmp_path / "split"))


def test_a_run_of_two_ranks_resumes_in_one_with_the_streams_state(tmp_path):
    run("lm", tmp_path / "whole", 1, "--max-steps", "6")
    run("lm", tmp_path / "split", 2, "--max-steps", "3")  # stops mid-epoch: state of all 4 streams saved
    ck = load_file(str(tmp_path / "split" / "last.safetensors"))
    carried = [v for k, v in ck.items() if k.startswith("carried_state/")]
    assert carried and all(v.shape[1] == 4 for v in carried)  # (layers, all 4 streams, hidden)
    run("lm", tmp_path / "split", 1, "--resume", "--max-steps", "6")
    assert_same(weights(tmp_path / "whole"), weights(tmp_path / "split"))


def test_a_rank_that_dies_ends_the_run_on_every_rank_and_keeps_the_checkpoint(tmp_path):
    r = run("lm", tmp_path / "run", 2, "--max-steps", "40", "--die-at", "5", ok=False)
    assert r.returncode != 0
    assert "another rank failed or left" in r.stderr and "is intact" in r.stderr
    ck = load_file(str(tmp_path / "run" / "last.safetensors"))  # written at step 4, whole
    assert any(k.startswith("model/") for k in ck)
    run("lm", tmp_path / "run", 1, "--resume", "--max-steps", "6")  # and it resumes


def test_the_command_line_trains_with_nproc_and_only_rank_0_speaks(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(f"line {i % 7} of the text {i % 3}" for i in range(200)) + "\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "rnnkit", "lm", "train", str(corpus), "--level", "word", "--hidden",
                        "16", "--layers", "1", "--batch-size", "4", "--bptt", "8", "--epochs", "1",
                        "--out", str(tmp_path / "run"), "--nproc", "2", "--threads", "1", "--quiet"],
                       capture_output=True, text=True, env=env(), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("best checkpoint:") == 1  # one voice
    from rnnkit.training.checkpoint import load_checkpoint

    meta = load_checkpoint(tmp_path / "run" / "best.safetensors").meta
    assert meta["runtime"]["world_size"] == 2 and meta["runtime"]["threads"] == 1
