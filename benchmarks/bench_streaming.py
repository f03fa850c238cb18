"""Streaming inference: microseconds per LSTM step with the state carried, against the peers.

Usage:
    python benchmarks/bench_streaming.py           # full run, writes results/streaming.json
    python benchmarks/bench_streaming.py --quick   # H=64 and 256 only, 3 rounds (smoke check)

For H in 64, 256, 1024 and 1 or 2 layers, at batch 1 and batch 64 (reported per stream),
with one thread and with the default threads, in interleaved rounds (every
implementation once per round, medians over rounds):

* ``engine``   -- rnnkit's NumPy step engine (``StepEngine.step``), what streams and
  generation use;
* ``numpy``    -- a plain NumPy step (two products per gate block, sigmoid as 1/(1+e^-x)):
  the reference for what the arithmetic costs;
* ``blas``     -- only the engine's fused products ``[x, h, 1] @ W``, one per layer: the
  matrix-vector (or matrix) limit, below which no step can go;
* ``onnxruntime`` -- the ONNX export of the same stack (T=1, state in and out);
* ``nn.LSTM``  -- ``torch.nn.LSTM`` with T=1 under ``torch.inference_mode``;
* ``nn.LSTMCell`` -- one ``torch.nn.LSTMCell`` per layer under ``torch.inference_mode``.

Then characters per second of ``generate`` (2 x 256 LSTM, 65 symbols) with the NumPy engine
and with torch's ``step``, and the latency of one forecaster update (append a row, forecast
the horizon) for a 1 x 64 LSTM forecaster over 168 rows.

``--projected`` times only the projected LSTM (LSTMP, the awd-lstm preset's 3 x 1150 -> 400
and the CPU benchmarks' 3 x 512 -> 256) at batch 1: the NumPy engine against the torch engine
(``Recurrent.step``), which LSTMP streams used before the NumPy engine ran it; writes
results/streaming_projected.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from rnnkit.inference import ForecastStream, StepEngine
from rnnkit.layers import Recurrent

SIZES = [64, 256, 1024]
LAYERS = [1, 2]
BATCHES = [1, 64]


def _threads(n: int | None):
    """Limit torch and the BLAS under NumPy to ``n`` threads (None: their defaults)."""
    from threadpoolctl import threadpool_limits

    @contextlib.contextmanager
    def limit():
        before = torch.get_num_threads()
        if n is not None:
            torch.set_num_threads(n)
        with threadpool_limits(limits=n):
            yield
        torch.set_num_threads(before)

    return limit()


def _time_per_call(fn, min_seconds: float) -> float:
    """Microseconds per call of ``fn``, over at least ``min_seconds``."""
    fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls * 1e6


class PlainNumpyStep:
    """The textbook LSTM step in NumPy, separate input and recurrent products per layer."""

    def __init__(self, rnn: Recurrent, batch: int) -> None:
        self.layers = []
        for cell in rnn.cells:
            w = [p.detach().numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
            self.layers.append((w[0].T.copy(), w[1].T.copy(), w[2] + w[3]))
        self.h = [np.zeros((batch, rnn.hidden_size), np.float32) for _ in self.layers]
        self.c = [np.zeros((batch, rnn.hidden_size), np.float32) for _ in self.layers]

    def step(self, x: np.ndarray) -> np.ndarray:
        for k, (w_ih, w_hh, b) in enumerate(self.layers):
            g = x @ w_ih + self.h[k] @ w_hh + b
            i, f, gg, o = np.split(g, 4, axis=1)
            i, f, o = 1 / (1 + np.exp(-i)), 1 / (1 + np.exp(-f)), 1 / (1 + np.exp(-o))
            self.c[k] = f * self.c[k] + i * np.tanh(gg)
            self.h[k] = x = o * np.tanh(self.c[k])
        return x


class _StackGraph(torch.nn.Module):
    def __init__(self, rnn: Recurrent) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x, h, c):
        y, (h2, c2) = self.rnn(x, (h, c))
        return y, h2, c2


def _onnx_session(rnn: Recurrent, threads: int | None, folder: Path):
    import onnxruntime as ort

    path = folder / f"stack_{rnn.hidden_size}_{rnn.num_layers}.onnx"
    if not path.exists():
        n = rnn.num_layers
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_StackGraph(rnn), (torch.zeros(1, 1, rnn.input_size), torch.zeros(n, 1, rnn.hidden_size),
                                                 torch.zeros(n, 1, rnn.hidden_size)), str(path),
                              input_names=["x", "h", "c"], output_names=["y", "h_out", "c_out"],
                              dynamic_axes={"x": {0: "batch"}, "h": {1: "batch"}, "c": {1: "batch"}},
                              opset_version=17, dynamo=False)
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
    return ort.InferenceSession(str(path), options)


def bench_step(hidden: int, layers: int, batch: int, threads: int | None, rounds: int, folder: Path,
               min_seconds: float) -> dict:
    torch.manual_seed(0)
    rnn = Recurrent("lstm", hidden, hidden, layers, batch_first=True).eval()
    x_np = np.random.default_rng(0).normal(size=(batch, hidden)).astype(np.float32) * 0.1
    x_t = torch.from_numpy(x_np)
    engine = StepEngine(rnn)
    state = engine.new_state(batch)
    plain = PlainNumpyStep(rnn, batch)
    scratch = [np.empty((batch, layer.w.shape[1]), np.float32) for layer in engine.layers]
    lstm = rnn.to_torch().eval()
    cells = []
    for k in range(layers):
        cell = torch.nn.LSTMCell(hidden, hidden)
        cell.load_state_dict({n: getattr(rnn.cells[k], n) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
        cells.append(cell.eval())
    h0 = torch.zeros(layers, batch, hidden)
    torch_state = [(h0.clone(), h0.clone())]
    cell_state = [[(torch.zeros(batch, hidden), torch.zeros(batch, hidden)) for _ in range(layers)]]
    x3 = x_t[:, None]
    with _threads(threads):
        sess = _onnx_session(rnn, threads, folder)
        onnx_state = [{"h": h0.numpy(), "c": h0.numpy()}]
        x3_np = x_np[:, None]

        def run_engine():
            engine.step(state, x_np)

        def run_blas():
            for xh, layer, out in zip(state.xh, engine.layers, scratch):
                np.dot(xh, layer.w, out=out)

        def run_lstm():
            y, s = lstm(x3, torch_state[0])
            torch_state[0] = s

        def run_cells():
            inp = x_t
            new = []
            for cell, s in zip(cells, cell_state[0]):
                h, c = cell(inp, s)
                new.append((h, c))
                inp = h
            cell_state[0] = new

        def run_onnx():
            _, h, c = sess.run(None, {"x": x3_np, **onnx_state[0]})
            onnx_state[0] = {"h": h, "c": c}

        impls = {"engine": run_engine, "numpy": lambda: plain.step(x_np), "blas": run_blas,
                 "onnxruntime": run_onnx, "nn.LSTM": run_lstm, "nn.LSTMCell": run_cells}
        times: dict[str, list[float]] = {k: [] for k in impls}
        with torch.inference_mode():
            for _ in range(rounds):
                for name, fn in impls.items():
                    times[name].append(_time_per_call(fn, min_seconds))
    us = {k: statistics.median(v) for k, v in times.items()}
    return {"hidden": hidden, "layers": layers, "batch": batch,
            "threads": threads or f"default ({torch.get_num_threads()})",
            "us_per_step": us, "us_per_stream": {k: v / batch for k, v in us.items()},
            "speedup_vs_nn_lstm": us["nn.LSTM"] / us["engine"], "engine_vs_numpy": us["engine"] / us["numpy"],
            "engine_vs_blas": us["engine"] / us["blas"], "onnx_vs_engine": us["onnxruntime"] / us["engine"]}


def bench_generation(rounds: int, threads: int | None) -> dict:
    from rnnkit.generation import generate
    from rnnkit.models import LanguageModel, LanguageModelConfig

    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(65, "lstm", 256, 2)).eval()
    rates: dict[str, list[float]] = {"numpy": [], "torch": []}
    with _threads(threads):
        for _ in range(rounds):
            for engine in rates:
                start = time.perf_counter()
                generate(model, [1, 2, 3], 2000, temperature=0.8, seed=0, engine=engine)
                rates[engine].append(2000 / (time.perf_counter() - start))
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {"model": "LSTM 2 x 256, 65 symbols", "threads": threads or "default", "chars_per_s": med,
            "speedup": med["numpy"] / med["torch"]}


def bench_forecast(rounds: int, threads: int | None) -> dict:
    from rnnkit.models.forecaster import ForecastNet, ForecastNetConfig

    torch.manual_seed(0)
    model = ForecastNet(ForecastNetConfig(n_targets=1, horizon=24, n_known=6, hidden_size=64)).eval()
    stream = ForecastStream(model, 168)
    rows = np.random.default_rng(0).normal(size=(168, 7)).astype(np.float32)
    for r in rows:
        stream.update(r[None])
    future = np.zeros((1, 24, 6), np.float32)
    row = rows[:1]
    with _threads(threads):
        times = [_time_per_call(lambda: stream.step(row, future), 0.2) for _ in range(rounds)]
    return {"model": "LSTM 1 x 64, context 168, horizon 24", "threads": threads or "default",
            "us_per_update": statistics.median(times)}


def bench_projected(rounds: int, threads: int | None) -> list[dict]:
    """LSTMP steps at batch 1: the NumPy engine against the torch engine, interleaved."""
    from rnnkit.inference.torch_engine import TorchStepEngine

    rows = []
    for hidden, proj in ((1150, 400), (512, 256)):
        torch.manual_seed(0)
        rnn = Recurrent("lstm", proj, hidden, 3, batch_first=True, proj_size=proj).eval()
        engines: dict[str, StepEngine | TorchStepEngine] = {"numpy engine": StepEngine(rnn),
                                                            "torch engine": TorchStepEngine(rnn)}
        states = {k: e.new_state(1) for k, e in engines.items()}
        x = np.random.default_rng(0).normal(size=(1, proj)).astype(np.float32)
        times: dict[str, list[float]] = {k: [] for k in engines}
        with _threads(threads):
            for _ in range(rounds):
                for name, engine in engines.items():
                    times[name].append(_time_per_call(lambda e=engine, s=states[name], v=x: e.step(s, v), 0.2))
        us = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"model": f"LSTMP 3 x {hidden} -> {proj}", "batch": 1, "threads": threads or "default",
                     "us_per_step": us, "speedup": us["torch engine"] / us["numpy engine"]})
        print(f"  {rows[-1]['model']}, threads {rows[-1]['threads']}: "
              + ", ".join(f"{k} {v:.0f}" for k, v in us.items()) + f" us/step ({rows[-1]['speedup']:.2f}x)",
              flush=True)
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="H=64 and 256 only, 3 rounds, not written")
    ap.add_argument("--projected", action="store_true",
                    help="only the projected LSTM, NumPy engine vs torch engine (results/streaming_projected.json)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "streaming.json"))
    args = ap.parse_args(argv)
    if args.projected:
        load_before = os.getloadavg()
        rows = [r for t in (1, None) for r in bench_projected(args.rounds, t)]
        result = {"benchmark": "streaming inference, projected LSTM (LSTMP), float32, CPU, batch 1",
                  "torch": torch.__version__, "cpu_count": os.cpu_count(), "load_average_before": load_before,
                  "load_average_after": os.getloadavg(), "rounds": args.rounds, "rows": rows}
        out = Path(args.out).with_name("streaming_projected.json")
        out.write_text(json.dumps(result, indent=2))
        return result
    sizes = SIZES[:2] if args.quick else SIZES
    rounds = 3 if args.quick else args.rounds
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for threads in (1, None):
            for hidden in sizes:
                for layers in LAYERS:
                    for batch in BATCHES:
                        min_seconds = 0.05 if hidden < 1024 else 0.2
                        rows.append(bench_step(hidden, layers, batch, threads, rounds, Path(tmp), min_seconds))
                        print_row(rows[-1])
    generation = [bench_generation(rounds, t) for t in (1, None)]
    forecast = [bench_forecast(rounds, t) for t in (1, None)]
    result = {
        "benchmark": "streaming inference, LSTM, float32, CPU", "torch": torch.__version__,
        "numpy": np.__version__, "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "rounds": rounds, "quick": args.quick, "rows": rows, "generation": generation, "forecast": forecast,
    }
    if not args.quick:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
    print_tables(result)
    return result


def print_row(r):
    us = r["us_per_step"]
    print(f"  H={r['hidden']} L={r['layers']} B={r['batch']} threads={r['threads']}: "
          + ", ".join(f"{k} {v:.1f}" for k, v in us.items()) + " us/step", flush=True)


def print_tables(result):
    impls = ["engine", "numpy", "blas", "onnxruntime", "nn.LSTM", "nn.LSTMCell"]
    print("\n| threads | H x L | batch | " + " | ".join(impls) + " | engine vs nn.LSTM | engine / blas |")
    print("|---|---|---:|" + "---:|" * (len(impls) + 2))
    for r in result["rows"]:
        per = r["us_per_stream"]
        print(f"| {r['threads']} | {r['hidden']} x {r['layers']} | {r['batch']} | "
              + " | ".join(f"{per[k]:.1f}" for k in impls)
              + f" | {r['speedup_vs_nn_lstm']:.1f}x | {r['engine_vs_blas']:.2f} |")
    print("\nmicroseconds per step and stream (batch 64: time per step / 64)")
    for g in result["generation"]:
        cps = g["chars_per_s"]
        print(f"generate, {g['model']}, threads {g['threads']}: numpy engine {cps['numpy']:,.0f} chars/s, "
              f"torch step {cps['torch']:,.0f} chars/s ({g['speedup']:.1f}x)")
    for f in result["forecast"]:
        print(f"forecaster update, {f['model']}, threads {f['threads']}: {f['us_per_update']:,.0f} us")
    print(f"load average before {result['load_average_before']}, after {result['load_average_after']}")


if __name__ == "__main__":
    main()
