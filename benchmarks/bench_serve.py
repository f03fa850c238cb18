"""Load test of ``rnnkit serve`` on loopback: throughput, latency, batching, and a SIGKILL.

Usage:
    python benchmarks/bench_serve.py                          # 200 sessions x 500 steps, writes results/serve.json
    python benchmarks/bench_serve.py --sessions 50 --steps 100 --no-json   # a quick look
    python benchmarks/bench_serve.py --in-process               # the server without HTTP: the step's own cost

Two models, trained for a moment on embedded data (their weights do not matter for speed):
a 1 x 256 LSTM classifier over 4 features per step and a 1 x 256 LSTM character model.
For each, a real server (uvicorn, one process) is started and ``--sessions`` concurrent
clients (aiohttp, asyncio, one process) each open a session and send ``--steps`` steps, one
request per step, each with ``after`` (so a retried step is taken once). Reported: steps/s,
p50/p95/p99 latency, the server's mean batch size (from /metrics) and CPU seconds; the same
with dynamic batching off; one session stepping alone (one request at a time); a gateway
that sends every session's next step in one ``POST /steps``; and the
batched run of the character model again with the server killed (SIGKILL) and restarted in
the middle: sessions lost, acknowledged steps lost, and outputs that differ from the
uninterrupted run (beyond 1e-5: a batch of a different size may round differently).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _train(folder: Path) -> dict[str, str]:
    import rnnkit
    from rnnkit.tasks.io import python_stdlib_text

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 20, 4)).astype(np.float32)
    y = np.where(X[:, :, 0].mean(1) > 0, "up", "down")
    clf = rnnkit.RNNClassifier(hidden_size=256, bidirectional=False, znorm=False, epochs=1, device="cpu").fit(X, y)
    text = folder / "text.txt"
    text.write_text(python_stdlib_text(200_000), encoding="utf-8")
    lm = rnnkit.LanguageModeler(hidden_size=256, num_layers=1, epochs=1, max_time=10, device="cpu").fit(str(text))
    return {"classifier": str(clf.save(folder / "classifier.safetensors")),
            "charlm": str(lm.save(folder / "charlm.safetensors")), "vocab": len(lm.vocab_)}  # type: ignore[dict-item]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(spec: str, db: Path, port: int, batching: bool) -> subprocess.Popen:
    import httpx

    cmd = [sys.executable, "-m", "rnnkit", "serve", spec, "--port", str(port), "--state-db", str(db),
           "--max-sessions", "100000"]
    if not batching:
        cmd.append("--no-batching")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _batch_mean(url: str) -> float:
    import httpx

    text = httpx.get(url + "/metrics").text
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
              if line.startswith("rnnkit_batch_size_sum") or line.startswith("rnnkit_batch_size_count")}
    return values.get("rnnkit_batch_size_sum", 0) / max(values.get("rnnkit_batch_size_count", 1), 1)


def _body(kind: str, vocab: int, rng: np.random.Generator, after: int) -> dict:
    if kind == "classifier":
        return {"values": rng.normal(size=4).round(4).tolist(), "after": after}
    return {"ids": [int(rng.integers(vocab))], "after": after}


async def _load(url: str, kind: str, vocab: int, sessions: int, steps: int, kill=None) -> dict:
    """``sessions`` clients, ``steps`` requests each; returns latencies and every output."""
    import aiohttp

    latencies: list[float] = []
    outputs: dict[int, list] = {}
    retries = [0]
    connector = aiohttp.TCPConnector(limit=sessions)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as client:
        async def call(method, path, **kw):
            while True:
                try:
                    async with client.request(method, path, **kw) as r:
                        if r.status < 500:
                            return r.status, await r.json()
                except (aiohttp.ClientError, asyncio.TimeoutError):  # refused, reset, or a body cut off by the kill
                    pass
                retries[0] += 1
                await asyncio.sleep(0.05)

        async def one(i: int):
            _, opened = await call("POST", "/sessions", json={"model": kind})
            sid = opened["id"]
            rng = np.random.default_rng(i)
            outs = outputs.setdefault(i, [])
            for k in range(steps):
                body = _body(kind, vocab, rng, k)
                start = time.perf_counter()
                status, out = await call("POST", f"/sessions/{sid}/step", json=body)
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    raise RuntimeError(f"step failed: {out}")
                outs.append(out.get("probabilities") or [[t["id"], t["p"]] for t in out["next"]])
                if kill is not None:
                    await kill.maybe()
            return sid

        start = time.perf_counter()
        ids = await asyncio.gather(*(one(i) for i in range(sessions)))
        wall = time.perf_counter() - start
        final = [(await call("GET", f"/sessions/{sid}")) for sid in ids]
    lost_sessions = sum(status == 404 for status, _ in final)
    lost_steps = sum(steps - info["steps"] for status, info in final if status == 200)
    ms = sorted(x * 1000 for x in latencies)
    return {"steps": len(latencies), "seconds": wall, "steps_per_s": len(latencies) / wall,
            "p50_ms": ms[len(ms) // 2], "p95_ms": ms[int(len(ms) * 0.95)], "p99_ms": ms[int(len(ms) * 0.99)],
            "retries": retries[0], "lost_sessions": lost_sessions, "lost_steps": lost_steps, "outputs": outputs}


async def _gateway(url: str, kind: str, vocab: int, sessions: int, steps: int) -> dict:
    """One client sending every session's next step in one ``POST /steps`` per round."""
    import aiohttp

    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=120)) as client:
        ids = []
        for _ in range(sessions):
            async with client.post("/sessions", json={"model": kind}) as r:
                ids.append((await r.json())["id"])
        rngs = [np.random.default_rng(i) for i in range(sessions)]
        latencies = []
        start = time.perf_counter()
        for k in range(steps):
            items = [{"id": sid, **_body(kind, vocab, rng, k)} for sid, rng in zip(ids, rngs)]
            t = time.perf_counter()
            async with client.post("/steps", json={"steps": items}) as r:
                results = (await r.json())["results"]
            latencies.append(time.perf_counter() - t)
            if any("error" in x for x in results):
                raise RuntimeError(f"gateway step failed: {results[0]}")
        wall = time.perf_counter() - start
    ms = sorted(x * 1000 for x in latencies)
    return {"steps_per_s": sessions * steps / wall, "request_p50_ms": ms[len(ms) // 2],
            "request_p99_ms": ms[int(len(ms) * 0.99)]}


class _Killer:
    """SIGKILL the server once half the steps are done, then start it again on the same port."""

    def __init__(self, total: int, restart) -> None:
        self.total, self.done, self.restart, self.fired = total, 0, restart, False
        self.downtime = 0.0

    async def maybe(self) -> None:
        self.done += 1
        if not self.fired and self.done >= self.total // 2:
            self.fired = True
            start = time.perf_counter()
            await asyncio.to_thread(self.restart)
            self.downtime = time.perf_counter() - start


def _compare(a: dict, b: dict) -> tuple[int, float]:
    differ, worst = 0, 0.0
    for i in a:
        for x, y in zip(a[i], b[i]):
            if isinstance(x, dict):
                d = max(abs(x[k] - y[k]) for k in x)
            else:
                ids_equal = [t[0] for t in x] == [t[0] for t in y]
                d = max(abs(p[1] - q[1]) for p, q in zip(x, y)) if ids_equal else 1.0
            worst = max(worst, d)
            differ += d > 1e-5
    return differ, worst


def in_process(kind: str, paths: dict, sessions: int, steps: int, folder: Path) -> dict:
    """The server without HTTP: ``Server.step`` from ``sessions`` concurrent coroutines,
    batched and not -- what the batched step itself costs."""
    from rnnkit.serving.run import load_models
    from rnnkit.serving.server import Server, ServeSettings
    from rnnkit.serving.store import SessionStore

    vocab = int(paths["vocab"])
    out = {}
    for batching in (True, False):
        async def go(batching: bool = batching) -> float:
            store = SessionStore(folder / f"ip-{kind}-{batching}.sqlite")
            server = Server(load_models([f"{kind}={paths[kind]}"]), store, ServeSettings(batching=batching))
            await server.start()
            ids = [(await server.create(kind, {})).id for _ in range(sessions)]
            rngs = [np.random.default_rng(i) for i in range(sessions)]

            async def one(sid, rng):
                for k in range(steps):
                    await server.step(sid, _body(kind, vocab, rng, k))

            start = time.perf_counter()
            await asyncio.gather(*(one(sid, rng) for sid, rng in zip(ids, rngs)))
            wall = time.perf_counter() - start
            await server.close()
            return sessions * steps / wall

        out["batched" if batching else "unbatched"] = asyncio.run(go())
    print(f"  {kind} in-process (no HTTP): {out['batched']:,.0f} steps/s batched, {out['unbatched']:,.0f} unbatched",
          flush=True)
    return out


def run_model(kind: str, paths: dict, sessions: int, steps: int, folder: Path) -> dict:
    spec = f"{kind}={paths[kind]}"
    vocab = int(paths["vocab"])
    result: dict = {"model": kind}
    for batching in (True, False):
        port = _port()
        proc = _start(spec, folder / f"{kind}-{batching}.sqlite", port, batching)
        url = f"http://127.0.0.1:{port}"
        cpu0 = _cpu_seconds(proc.pid)
        r = asyncio.run(_load(url, kind, vocab, sessions, steps))
        r["server_cpu_s"] = _cpu_seconds(proc.pid) - cpu0
        r["mean_batch"] = _batch_mean(url)
        if batching:
            alone = asyncio.run(_load(url, kind, vocab, 1, min(steps, 500)))
            result["one_at_a_time"] = {k: v for k, v in alone.items() if k != "outputs"}
            result["gateway"] = asyncio.run(_gateway(url, kind, vocab, sessions, min(steps, 100)))
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        result["batched" if batching else "unbatched"] = r
        print(f"  {kind} batching={batching}: {r['steps_per_s']:,.0f} steps/s, p50 {r['p50_ms']:.1f} ms, "
              f"p99 {r['p99_ms']:.1f} ms, mean batch {r['mean_batch']:.1f}", flush=True)
    # the same batched load with a SIGKILL + restart half-way
    port = _port()
    db = folder / f"{kind}-kill.sqlite"
    state = {"proc": _start(spec, db, port, True)}

    def restart():
        os.killpg(state["proc"].pid, signal.SIGKILL)
        state["proc"].wait(30)
        state["proc"] = _start(spec, db, port, True)

    killer = _Killer(sessions * steps, restart)
    k = asyncio.run(_load(f"http://127.0.0.1:{port}", kind, vocab, sessions, steps, killer))
    os.killpg(state["proc"].pid, signal.SIGTERM)
    state["proc"].wait(30)
    differ, worst = _compare(result["batched"]["outputs"], k["outputs"])
    result["kill_restart"] = {"steps_per_s": k["steps_per_s"], "restart_seconds": killer.downtime,
                              "retried_requests": k["retries"], "lost_sessions": k["lost_sessions"],
                              "lost_steps": k["lost_steps"], "outputs_differing": differ,
                              "max_output_difference": worst}
    print(f"  {kind} kill -9 + restart: lost sessions {k['lost_sessions']}, lost steps {k['lost_steps']}, "
          f"differing outputs {differ} (max diff {worst:.2e}), restart {killer.downtime:.1f} s", flush=True)
    for key in ("batched", "unbatched"):
        result[key].pop("outputs")
    b, one = result["batched"], result["one_at_a_time"]
    result["batched_vs_one_at_a_time"] = b["steps_per_s"] / one["steps_per_s"]
    result["batched_vs_unbatched"] = b["steps_per_s"] / result["unbatched"]["steps_per_s"]
    result["gateway_vs_one_at_a_time"] = result["gateway"]["steps_per_s"] / one["steps_per_s"]
    return result


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--no-json", action="store_true", help="do not write results/serve.json")
    ap.add_argument("--in-process", action="store_true",
                    help="only the server without HTTP (Server.step, batched and not; 20 steps per session)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "serve.json"))
    args = ap.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = _train(folder)
        if args.in_process:
            return {kind: in_process(kind, paths, args.sessions, min(args.steps, 20), folder)
                    for kind in ("classifier", "charlm")}
        rows = [run_model(kind, paths, args.sessions, args.steps, folder) for kind in ("classifier", "charlm")]
    result = {"benchmark": "rnnkit serve on loopback", "sessions": args.sessions, "steps_per_session": args.steps,
              "cpu_count": os.cpu_count(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "rows": rows}
    if not args.no_json:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
    print("\n| model | mode | steps/s | p50 ms | p95 ms | p99 ms | mean batch | server CPU s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        for mode in ("batched", "unbatched", "one_at_a_time"):
            m = r[mode]
            print(f"| {r['model']} | {mode} | {m['steps_per_s']:,.0f} | {m['p50_ms']:.1f} | {m['p95_ms']:.1f} | "
                  f"{m['p99_ms']:.1f} | {m.get('mean_batch', 1.0):.1f} | {m.get('server_cpu_s', float('nan')):.1f} |")
        g = r["gateway"]
        print(f"| {r['model']} | gateway (POST /steps, {args.sessions} per request) | {g['steps_per_s']:,.0f} | "
              f"{g['request_p50_ms']:.1f} per request | | {g['request_p99_ms']:.1f} per request | | |")
        kr = r["kill_restart"]
        print(f"| {r['model']} | SIGKILL + restart | {kr['steps_per_s']:,.0f} | lost sessions {kr['lost_sessions']}, "
              f"lost steps {kr['lost_steps']}, differing outputs {kr['outputs_differing']} | | | | |")
    print("batched / one at a time: " + ", ".join(f"{r['model']} {r['batched_vs_one_at_a_time']:.1f}x" for r in rows))
    print(f"load average before {load_before}, after {result['load_average_after']}")
    return result


if __name__ == "__main__":
    main()
