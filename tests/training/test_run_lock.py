"""One writer per run folder: a second writer (another process) gets one line naming the holder
and changes nothing; a lock left by a killed process is taken over; locks nest in a process."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from rnnkit.errors import ConfigError
from rnnkit.training.run_folder import LOCK_NAME, run_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock")

HOLDER = textwrap.dedent("""
    import sys, time
    from rnnkit.training.run_folder import run_lock
    with run_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(60)
""")


def hold(folder):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def rnnkit(*args, cwd):
    env = {**os.environ, "RNNKIT_CACHE": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "rnnkit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_a_second_writer_is_refused_and_changes_nothing(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.safetensors").write_bytes(b"the running run's checkpoint")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("hello world\n" * 200)
    holder = hold(run)
    try:
        r = rnnkit("lm", "train", corpus, "--out", run, "--overwrite", "--quiet", cwd=tmp_path)
        lines = [x for x in (r.stdout + r.stderr).splitlines() if x.strip()]
        assert r.returncode == 2 and len(lines) == 1, lines
        assert f"being written by another rnnkit (pid {holder.pid}" in lines[0]
        assert (run / "last.safetensors").read_bytes() == b"the running run's checkpoint"  # not deleted under it
        with pytest.raises(ConfigError, match="being written by another rnnkit"):
            with run_lock(run):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder died without cleaning up: its lock file is left, and is taken over
    assert (run / LOCK_NAME).exists()
    with run_lock(run):
        assert str(os.getpid()) in (run / LOCK_NAME).read_text()


def test_locks_nest_within_a_process(tmp_path):
    with run_lock(tmp_path / "run"):
        with run_lock(tmp_path / "run"):
            pass
        with run_lock(tmp_path / "run"):  # still held by the outer block
            pass
    holder = hold(tmp_path / "run")  # and released after it: another process can take it
    holder.send_signal(signal.SIGKILL)
    holder.wait()


def test_a_lock_on_a_file_is_one_line(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a run folder"):
        with run_lock(tmp_path / "f"):
            pass


def test_demo_refuses_another_kind_of_run(tmp_path):
    from rnnkit.tasks import lm

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("def f(x):\n    return x\n" * 100)
    lm.train(lm.LMSettings(train_files=[str(corpus)], hidden_size=8, num_layers=1, epochs=1, progress=False,
                           sample_every=0, device="cpu"), tmp_path / "mine")
    r = rnnkit("demo", "--out", tmp_path / "mine", "--seconds", "1", cwd=tmp_path)
    assert r.returncode == 2 and "already holds a training run" in r.stdout + r.stderr
    assert not (tmp_path / "mine" / "corpus.txt").exists()  # nothing written into it


def test_someone_elses_folder_and_a_bare_log_are_not_replaced(tmp_path):
    from rnnkit.training.run_folder import check_run_folder

    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"not rnnkit's")
    with pytest.raises(ConfigError, match="not empty and holds no rnnkit run"):
        with run_lock(mine):
            check_run_folder(mine)
    assert (mine / "holiday.jpg").read_bytes() == b"not rnnkit's"
    with run_lock(mine):
        check_run_folder(mine, overwrite=True)  # asked for: allowed (only rnnkit's own files are replaced)

    killed = tmp_path / "killed"  # a run killed before its first checkpoint left its log
    killed.mkdir()
    (killed / "metrics.jsonl").write_text('{"step": 1}\n')
    with pytest.raises(ConfigError, match="already holds a training run"):
        check_run_folder(killed)


def test_outputs_replace_a_link_never_write_through_it(tmp_path):
    from rnnkit.outputs import atomic_write_text

    target = tmp_path / "important.txt"
    target.write_text("keep me")
    link = tmp_path / "run" / "test_report.json"
    link.parent.mkdir()
    link.symlink_to(target)
    atomic_write_text(link, "{}")
    assert target.read_text() == "keep me" and not link.is_symlink() and link.read_text() == "{}"
