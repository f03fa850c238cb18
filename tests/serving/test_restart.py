"""A real ``rnnkit serve`` on 127.0.0.1 killed with SIGKILL mid-session and started again on
the same state database: every session continues with exactly the outputs of a server that
was never interrupted."""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(specs, db, port, *extra):
    proc = subprocess.Popen([sys.executable, "-m", "rnnkit", "serve", *specs, "--port", str(port),
                             "--state-db", str(db), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start")


def _utterance():
    from helpers import ctc_utterances

    return ctc_utterances(1, seed=3, letters="ab", features=4, lengths=(1, 4))[0][0].tolist()


def _without_id(reply):  # session ids differ between the two servers' runs
    return {k: v for k, v in reply.items() if k != "id"}


def _first_half(c):
    lm = c.post("/sessions", json={"model": "lm", "prompt": "the ", "seed": 7}).json()["id"]
    sensor = c.post("/sessions", json={"model": "sensor"}).json()["id"]
    rec = c.post("/sessions", json={"model": "rec"}).json()["id"]
    frames = _utterance()
    outs = [c.post(f"/sessions/{lm}/step", json={"text": "cat"}).json()["next"],
            c.post(f"/sessions/{sensor}/step", json={"values": [[0.5, -0.2], [0.1, 0.3]]}).json()["probabilities"],
            c.post(f"/sessions/{lm}/generate", json={"length": 12, "stream": False}).json()["text"],
            # an odd number of frames: one waits for its stack partner through the restart
            _without_id(c.post(f"/sessions/{rec}/step", json={"frames": frames[:len(frames) // 2 | 1]}).json())]
    return (lm, sensor, rec), outs


def _second_half(c, ids):
    lm, sensor, rec = ids
    frames = _utterance()
    return [c.post(f"/sessions/{lm}/generate", json={"length": 20, "stream": False}).json()["text"],
            c.post(f"/sessions/{lm}/step", json={"text": " on"}).json()["next"],
            c.post(f"/sessions/{sensor}/step", json={"values": [-1.0, 2.0]}).json()["probabilities"],
            c.get(f"/sessions/{lm}").json()["steps"],
            _without_id(c.post(f"/sessions/{rec}/step", json={"frames": frames[len(frames) // 2 | 1:],
                                                               "finish": True}).json())]


def test_sigkill_and_restart_lose_no_acknowledged_step(checkpoints, tmp_path):
    specs = [f"lm={checkpoints['lm']}", f"sensor={checkpoints['sensor']}", f"rec={checkpoints['rec']}"]
    # an uninterrupted server
    proc, url = _start(specs, tmp_path / "a.sqlite", _free_port())
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            ids, first = _first_half(c)
            second = _second_half(c, ids)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    # the same requests, with a SIGKILL between the halves
    port = _free_port()
    proc, url = _start(specs, tmp_path / "b.sqlite", port)
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            ids_b, first_b = _first_half(c)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        proc, url = _start(specs, tmp_path / "b.sqlite", port)
        with httpx.Client(base_url=url, timeout=30) as c:
            second_b = _second_half(c, ids_b)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert first_b == first
    assert second_b == second
    import rnnkit

    assert second[-1]["transcript"] == rnnkit.tasks.load(checkpoints["rec"]).transcribe([np.array(_utterance())])[0]


def test_graceful_shutdown_and_non_loopback_needs_a_token(checkpoints, tmp_path):
    proc, url = _start([f"sensor={checkpoints['sensor']}"], tmp_path / "c.sqlite", _free_port(), "--log-level", "info")
    with httpx.Client(base_url=url, timeout=30) as c:
        sid = c.post("/sessions", json={"model": "sensor"}).json()["id"]
        c.post(f"/sessions/{sid}/step", json={"values": [0.0, 1.0]})
    os.killpg(proc.pid, signal.SIGTERM)  # uvicorn shuts down, then re-raises the signal
    assert proc.wait(30) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in proc.stderr.read().decode()
    from rnnkit.serving.store import SessionStore

    assert SessionStore(tmp_path / "c.sqlite").get(sid).steps == 1
    run = subprocess.run([sys.executable, "-m", "rnnkit", "serve", checkpoints["sensor"], "--host", "0.0.0.0",
                          "--state-db", str(tmp_path / "d.sqlite")], capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if k != "RNNKIT_SERVE_TOKEN"})
    assert run.returncode != 0 and "needs a bearer token" in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, "-m", "rnnkit", "serve", str(tmp_path / "missing.safetensors")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "Traceback" not in run.stderr


@pytest.mark.skipif(not os.environ.get("RNNKIT_TEST_POSTGRES_URL"),
                    reason="set RNNKIT_TEST_POSTGRES_URL=postgresql+psycopg://user@host:port/db to run")
def test_two_server_processes_share_sessions_through_postgres(checkpoints, tmp_path):
    url = os.environ["RNNKIT_TEST_POSTGRES_URL"]
    spec = [f"sensor={checkpoints['sensor']}"]
    a, url_a = _start(spec, url, _free_port())
    b, url_b = _start(spec, url, _free_port())
    solo, url_solo = _start(spec, tmp_path / "solo.sqlite", _free_port())
    steps = [[0.1, 0.2], [0.5, -1.0], [2.0, 0.3], [-0.4, 0.9]]
    try:
        with httpx.Client(timeout=30) as c:
            sid = c.post(url_a + "/sessions", json={"model": "sensor"}).json()["id"]
            ref = c.post(url_solo + "/sessions", json={"model": "sensor"}).json()["id"]
            for n, values in enumerate(steps):  # alternate between the two processes
                where = url_a if n % 2 == 0 else url_b
                got = c.post(f"{where}/sessions/{sid}/step", json={"values": values, "after": n}).json()
                want = c.post(f"{url_solo}/sessions/{ref}/step", json={"values": values}).json()
                assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)
            assert c.get(f"{url_b}/sessions/{sid}").json()["steps"] == len(steps)
            c.delete(f"{url_a}/sessions/{sid}")
    finally:
        for proc in (a, b, solo):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
