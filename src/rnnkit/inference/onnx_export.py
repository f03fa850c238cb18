"""Export to ONNX with the recurrent state as explicit inputs and outputs.

Every family becomes one graph (two for the families that open on something first):

==========================  =================================================================
language model              ``ids`` (B, T), ``h``, ``c`` -> ``logits`` (B, T, V), ``h_out``, ``c_out``
music model                 ``frames`` (B, T, 88), ``h``, ``c`` -> ``logits``, ``h_out``, ``c_out``
tagger                      ``x`` (B, T[, F]), ``lengths`` (B,) [, ``chars``, ``char_lengths``],
                            ``h``, ``c`` -> ``logits`` (B, T, K), ``h_out``, ``c_out``
classifier                  as the tagger -> ``logits`` (B, C), ``h_out``, ``c_out`` (with the
                            convolutional branch or z-normalisation, metadata ``whole_sequences``:
                            whole padded sequences per call, not chunks)
transfer classifier         ``ids`` (B, T), ``h``, ``c``, ``pool_max``, ``pool_sum``, ``pool_count``
                            -> ``logits`` (B, C) for the text so far and every state ``_out``:
                            concat pooling carried as state (start ``pool_max`` at -inf, the
                            others at 0; close a text with ``<eos>`` as the estimator does)
forecaster                  ``past`` (B, C, F), ``future`` (B, horizon, k) -> ``forecast`` (B, H, n, P)
conditioned generator       ``*.init.onnx``: ``condition`` -> ``condition_vector``, ``h``, ``c``;
                            ``*.step.onnx``: ``ids``, ``condition_vector``, ``h``, ``c`` -> ``logits``, ...
translator                  ``*.encoder.onnx``: ``src``, ``src_lengths`` -> ``memory``, ``keys``,
                            ``mask``, ``feed``, ``h``, ``c``; ``*.decoder.onnx``: ``tokens`` (B,),
                            ``memory``, ``keys``, ``mask``, ``feed``, ``h``, ``c`` -> ``logits``,
                            ``attention``, ``feed_out``, ``h_out``, ``c_out``
recognizer (CTC)            ``frames`` (B, T, F), ``lengths`` (B,), ``h``, ``c`` -> ``log_probs``
                            (B, T', labels + 1; column 0 the blank), ``output_lengths`` (B,),
                            ``h_out``, ``c_out``; the front end (input scaling, frame stacking or
                            convolutions) is inside, the frames' extraction (metadata
                            ``frame_spec``) and the decoding are the runtime's
==========================  =================================================================

States are (num_layers * directions, B, H) as in torch (``c`` only for LSTMs); batch and
time axes are dynamic, so a runtime streams by feeding T=1 (or any chunk) and passing
``h_out``/``c_out`` back in. The recurrent layers become ONNX ``LSTM``/``GRU``/``RNN``
operators (torch's TorchScript-based exporter, which maps its fused kernels onto them
one to one).

Cells without an ONNX operator (peephole, layer-normalised and projected LSTMs, minGRU,
minLSTM, sLSTM, mLSTM, and any cell under zoneout) are written as **one-step graphs**: the
cell's step equations traced for T=1, the time axis fixed at 1 (metadata ``"steps_per_call":
1``), every state tensor an input and an output under the cell's own names (``h, c, n, m``
for sLSTM, ``C, n, m`` for mLSTM, each (num_layers, B, size)). A runtime streams them exactly
as the others, one step per call. That covers the families that run step by step (language
and music models, the conditioned generator, a unidirectional tagger) and the forecaster
(whose context has a fixed length anyway); the classifier, the recogniser (whose front end
reads several frames per step) and the translator's encoder read whole sequences of any
length and are refused for these cells.

Each file carries what a consumer needs in its metadata property ``rnnkit``: the family, the
model config, the estimator's metadata (vocabularies, classes, scalers) and the names of the
inputs, outputs and states.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.layers import Recurrent, TorchState
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.conditioned_lm import ConditionedLM
from rnnkit.models.forecaster import ForecastNet
from rnnkit.models.language_model import LanguageModel
from rnnkit.models.lm_classifier import LMClassifier
from rnnkit.models.music_model import PolyphonicModel
from rnnkit.models.recognizer import CTCRecognizer
from rnnkit.models.seq2seq import DecoderState, Memory, Seq2Seq
from rnnkit.models.tagger import SequenceTagger

OPSET = 17


def _state_names(rnn: Recurrent) -> list[str]:
    named = getattr(rnn.cells[0], "state_names", None)
    if named is not None:
        return list(named)
    return ["h", "c"] if len(rnn.state_size) == 2 else ["h"]


def _has_operator(rnn: Recurrent) -> bool:
    """Whether ONNX has an operator for this layer (LSTM/GRU/RNN, no projection, no zoneout)."""
    return rnn.fused_mode is not None and not rnn.proj_size


@contextlib.contextmanager
def _stepwise(layers: list[Recurrent]) -> Iterator[None]:
    """Run ``layers`` on their step equations while tracing (not torch's fused kernel)."""
    saved = [r.backend for r in layers]
    for r in layers:
        r.backend = "reference"
    try:
        yield
    finally:
        for r, b in zip(layers, saved):
            r.backend = b


def _pack(state: Sequence[Tensor]) -> TorchState:
    return tuple(state) if len(state) > 1 else state[0]


def _unpack(state: TorchState) -> tuple[Tensor, ...]:
    return tuple(state) if isinstance(state, tuple) else (state,)


class _StatefulGraph(nn.Module):
    """A model whose forward is ``(x, state) -> (outputs, state)`` (language and music models)."""

    def __init__(self, model: LanguageModel | PolyphonicModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, *state: Tensor):
        out, new = self.model(x, _pack(state))
        return (out, *_unpack(new))


class _SequenceGraph(nn.Module):
    """Tagger or classifier: (x, lengths[, chars, char_lengths], *state) -> (logits, *state)."""

    def __init__(self, model: SequenceTagger | SequenceClassifier, chars: bool) -> None:
        super().__init__()
        self.model = model
        self.chars = chars

    def forward(self, x: Tensor, lengths: Tensor, *rest: Tensor):
        chars, char_lengths = (rest[0], rest[1]) if self.chars else (None, None)
        state = rest[2:] if self.chars else rest
        if isinstance(self.model, SequenceTagger):
            logits, new = self.model.forward_with_state(x, lengths, chars, char_lengths, _pack(state))
        else:
            pooled, new = self.model.encode_with_state(x, lengths, chars, char_lengths, _pack(state))
            logits = self.model.head(pooled)
        return (logits, *_unpack(new))


class _TransferClassifierGraph(nn.Module):
    """Transfer classifier: (ids, *state, pool_max, pool_sum, pool_count) -> (logits for the
    text so far, *state, pool_max, pool_sum, pool_count): concat pooling carried as state."""

    def __init__(self, model: LMClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor, *rest: Tensor):
        state, (top, total, count) = rest[:-3], rest[-3:]
        out, new = self.model.rnn(self.model.embedding(ids), _pack(state))  # (B, T, E); dropout is off
        top = torch.maximum(top, out.max(1).values)
        total = total + out.sum(1)
        count = count + torch.ones_like(out[:, :, :1]).sum(1)  # + T, traced with T dynamic
        logits = self.model.head(torch.cat([out[:, -1], top, total / count], dim=-1))
        return (logits, *_unpack(new), top, total, count)


class _RecognizerGraph(nn.Module):
    """CTC recogniser: (frames, lengths, *state) -> (log_probs, output_lengths, *state): the
    front end, the recurrent stack from ``state`` and the per-step label log-probabilities."""

    def __init__(self, model: CTCRecognizer) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: Tensor, lengths: Tensor, *state: Tensor):
        z, out_lengths = self.model.front(frames, lengths)
        h, new = self.model.encoder(z, _pack(state), lengths=out_lengths)
        log_probs = torch.log_softmax(self.model.output(h).float(), dim=-1)
        return (log_probs, out_lengths, *_unpack(new))


class _ConditionInit(nn.Module):
    def __init__(self, model: ConditionedLM) -> None:
        super().__init__()
        self.model = model

    def forward(self, condition: Tensor):
        cond = self.model.condition_encoder(condition)
        return (cond, *_unpack(self.model.initial_state(cond)))


class _ConditionStep(nn.Module):
    def __init__(self, model: ConditionedLM) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor, cond: Tensor, *state: Tensor):
        m = self.model
        out, new = m.rnn(m._inputs(ids, cond), _pack(state))
        return (m.decoder(out), *_unpack(new))


class _Encoder(nn.Module):
    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model

    def forward(self, src: Tensor, src_lengths: Tensor):
        memory, state = self.model.encode(src, src_lengths)
        keys = memory.outputs if memory.keys is None else memory.keys
        return (memory.outputs, keys, memory.mask, state.feed, *_unpack(state.rnn))


class _DecoderStep(nn.Module):
    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, memory: Tensor, keys: Tensor, mask: Tensor, feed: Tensor, *state: Tensor):
        m = self.model
        logits, new, weights = m.step(tokens, DecoderState(_pack(state), feed),
                                      Memory(memory, keys if m.has_attention else None, mask))
        return (logits, weights, new.feed, *_unpack(new.rnn))


class _ForecastGraph(nn.Module):
    def __init__(self, model: ForecastNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, past: Tensor, future: Tensor):
        return self.model(past, future)


def _states(rnn: Recurrent, batch: int, suffix: str = "") -> tuple[list[str], list[Tensor], dict[str, dict[int, str]]]:
    names = [n + suffix for n in _state_names(rnn)]
    n = rnn.num_layers * rnn.num_directions
    tensors = [torch.zeros(n, batch, size) for size in rnn.state_size]
    axes = {name: {1: "batch"} for name in names}
    axes.update({name + "_out": {1: "batch"} for name in names})
    return names, tensors, axes


def _export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str],
            axes: dict[str, dict[int, str]], meta: dict[str, Any]) -> Path:
    import onnx

    from rnnkit.outputs import atomic_write_bytes

    if meta.get("steps_per_call") == 1:  # a one-step graph: no time axis to vary
        axes = {name: {k: v for k, v in dims.items() if v != "time"} for name, dims in axes.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".export.tmp")
    with warnings.catch_warnings(), torch.no_grad(), _without_packing_notes():
        warnings.simplefilter("ignore")  # tracer notes on shape checks and packed sequences
        torch.onnx.export(module.eval(), args, str(tmp), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    proto = onnx.load(str(tmp))
    tmp.unlink()
    prop = proto.metadata_props.add()
    prop.key = "rnnkit"
    # the tracer drops inputs a graph never reads (the memory of a decoder without attention)
    used = [i.name for i in proto.graph.input]
    prop.value = json.dumps({**meta, "inputs": used, "outputs": outputs}, default=str)
    atomic_write_bytes(path, proto.SerializeToString())
    return path


@contextlib.contextmanager
def _without_packing_notes() -> Iterator[None]:
    """Drop the exporter's C++ notes that it cannot infer shapes through ``PackPadded`` and
    ``PadPacked``; pass everything else written to standard error meanwhile through.

    Those notes go from C++ straight to file descriptor 2, past Python's warning filters, and
    read like a fault ("may result in wrong shape inference"); the graphs holding packed
    sequences are checked against torch at lengths the tracer never saw (tests), so they say
    nothing to the user.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode("utf-8", "replace").splitlines(keepends=True):
                if "prim::PackPadded" not in line and "prim::PadPacked" not in line:
                    sys.stderr.write(line)
            sys.stderr.flush()


def _with_suffix(path: Path, part: str) -> Path:
    stem = path.name[: -len(".onnx")] if path.name.endswith(".onnx") else path.name
    return path.with_name(f"{stem}.{part}.onnx")


def export_onnx(model: nn.Module, path: str | Path, meta: dict[str, Any] | None = None) -> list[Path]:
    """Write ``model`` (any rnnkit task model) as ONNX; ``meta`` (JSON-able) rides along in
    the ``rnnkit`` metadata property. Returns the files written (two for the conditioned
    generator and the translator: ``NAME.init``/``NAME.step``, ``NAME.encoder``/``NAME.decoder``)."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ConfigError("ONNX export needs the onnx package: pip install 'rnnkit[onnx]'") from None
    path = Path(path)
    stepwise = [m for m in model.modules() if isinstance(m, Recurrent) and not _has_operator(m)]
    if stepwise:
        rnn = stepwise[0]
        what = (f"{rnn.cell_type} with proj_size" if rnn.proj_size else
                f"{rnn.cell_type} with zoneout" if rnn.zoneout else rnn.cell_type)
        whole_sequences = (SequenceClassifier, Seq2Seq, CTCRecognizer)
        why = ("reads whole sequences of any length" if isinstance(model, whole_sequences) else
               "is bidirectional" if any(r.bidirectional for r in stepwise) else None)
        if why is not None:
            raise ConfigError(f"a {type(model).__name__} with {what} has no ONNX export: ONNX has operators "
                              f"for lstm, gru and rnn only, other cells export as one-step graphs, and this "
                              f"model {why}; use rnnkit's streams or rnnkit serve")
        with _stepwise(stepwise):
            return _export_model(model, path, meta, stepwise=True)
    return _export_model(model, path, meta, stepwise=False)


def _export_model(model: nn.Module, path: Path, meta: dict[str, Any] | None, stepwise: bool) -> list[Path]:
    model = model.cpu().float().eval()
    cfg: Any = getattr(model, "config", None)
    config = cfg.to_dict() if hasattr(cfg, "to_dict") else {}
    meta = {"format": "rnnkit-onnx/1", "model": type(model).__name__, "config": config, **(meta or {})}
    b, t = 2, 3
    if stepwise:  # one step per call: the traced step equations hold for T=1 only
        t = 1
        meta["steps_per_call"] = 1
    if isinstance(model, LanguageModel):
        names, states, axes = _states(model.rnn, b)
        return [_export(_StatefulGraph(model), (torch.zeros(b, t, dtype=torch.long), *states), path,
                        ["ids", *names], ["logits", *(n + "_out" for n in names)],
                        {"ids": {0: "batch", 1: "time"}, "logits": {0: "batch", 1: "time"}, **axes},
                        {**meta, "family": "language model", "state": names})]
    if isinstance(model, PolyphonicModel):
        names, states, axes = _states(model.rnn, b)
        return [_export(_StatefulGraph(model), (torch.zeros(b, t, model.config.n_keys), *states), path,
                        ["frames", *names], ["logits", *(n + "_out" for n in names)],
                        {"frames": {0: "batch", 1: "time"}, "logits": {0: "batch", 1: "time"}, **axes},
                        {**meta, "family": "music model", "state": names})]
    if isinstance(model, (SequenceTagger, SequenceClassifier)):
        tc = model.config
        names, states, axes = _states(model.encoder, b)
        # the convolutional branch (LSTM-FCN) and z-normalisation read each whole series: such a
        # graph takes whole sequences (padded, with lengths), not chunks carried by the state
        whole = isinstance(model, SequenceClassifier) and bool(model.config.conv_branch or model.config.znorm)
        x = torch.zeros(b, t, dtype=torch.long) if tc.vocab_size else torch.zeros(b, t, tc.input_size or 0)
        lengths = torch.full((b,), t, dtype=torch.long)
        args: list[Tensor] = [x, lengths]
        inputs = ["x", "lengths"]
        dyn = {"x": {0: "batch", 1: "time"}, "lengths": {0: "batch"}}
        if tc.num_chars:
            args += [torch.ones(b, t, 2, dtype=torch.long), torch.full((b, t), 2, dtype=torch.long)]
            inputs += ["chars", "char_lengths"]
            dyn.update({"chars": {0: "batch", 1: "time", 2: "word_length"}, "char_lengths": {0: "batch", 1: "time"}})
        tagger = isinstance(model, SequenceTagger)
        dyn["logits"] = {0: "batch", 1: "time"} if tagger else {0: "batch"}
        return [_export(_SequenceGraph(model, bool(tc.num_chars)), (*args, *states), path, [*inputs, *names],
                        ["logits", *(n + "_out" for n in names)], {**dyn, **axes},
                        {**meta, "family": "tagger" if tagger else "classifier", "state": names,
                         "whole_sequences": whole})]
    if isinstance(model, ForecastNet):
        fc = model.config
        context = int(meta.get("context", 0)) or max(fc.highway, 8)
        past = torch.zeros(b, context, fc.n_targets + fc.n_past + fc.n_known)
        future = torch.zeros(b, fc.horizon, fc.n_known)
        return [_export(_ForecastGraph(model), (past, future), path, ["past", "future"], ["forecast"],
                        {"past": {0: "batch", 1: "time"}, "future": {0: "batch"}, "forecast": {0: "batch"}},
                        {**meta, "family": "forecaster", "state": []})]
    if isinstance(model, ConditionedLM):
        cc = model.config
        names, states, axes = _states(model.rnn, b)
        condition = torch.zeros(b, dtype=torch.long) if cc.num_labels else torch.zeros(b, cc.feature_size)
        init = _export(_ConditionInit(model), (condition,), _with_suffix(path, "init"), ["condition"],
                       ["condition_vector", *names],
                       {"condition": {0: "batch"}, "condition_vector": {0: "batch"}, **axes},
                       {**meta, "family": "conditioned generator", "graph": "init", "state": names})
        step = _export(_ConditionStep(model), (torch.zeros(b, t, dtype=torch.long),
                                               torch.zeros(b, cc.condition_size), *states),
                       _with_suffix(path, "step"), ["ids", "condition_vector", *names],
                       ["logits", *(n + "_out" for n in names)],
                       {"ids": {0: "batch", 1: "time"}, "condition_vector": {0: "batch"},
                        "logits": {0: "batch", 1: "time"}, **axes},
                       {**meta, "family": "conditioned generator", "graph": "step", "state": names})
        return [init, step]
    if isinstance(model, Seq2Seq):
        names, states, axes = _states(model.decoder, b)
        src = torch.ones(b, 4, dtype=torch.long)
        enc = _export(_Encoder(model), (src, torch.full((b,), 4, dtype=torch.long)), _with_suffix(path, "encoder"),
                      ["src", "src_lengths"], ["memory", "keys", "mask", "feed", *names],
                      {"src": {0: "batch", 1: "source"}, "src_lengths": {0: "batch"},
                       "memory": {0: "batch", 1: "source"}, "keys": {0: "batch", 1: "source"},
                       "mask": {0: "batch", 1: "source"}, "feed": {0: "batch"}, **axes},
                      {**meta, "family": "translator", "graph": "encoder", "state": names})
        with torch.no_grad():
            memory, st = model.encode(src, torch.full((b,), 4, dtype=torch.long))
        keys = memory.outputs if memory.keys is None else memory.keys
        dec = _export(_DecoderStep(model), (torch.ones(b, dtype=torch.long), memory.outputs, keys, memory.mask,
                                            st.feed, *_unpack(st.rnn)), _with_suffix(path, "decoder"),
                      ["tokens", "memory", "keys", "mask", "feed", *names],
                      ["logits", "attention", "feed_out", *(n + "_out" for n in names)],
                      {"tokens": {0: "batch"}, "memory": {0: "batch", 1: "source"}, "keys": {0: "batch", 1: "source"},
                       "mask": {0: "batch", 1: "source"}, "feed": {0: "batch"}, "logits": {0: "batch"},
                       "attention": {0: "batch", 1: "source"}, "feed_out": {0: "batch"},
                       **axes, **{n + "_out": {1: "batch"} for n in names}},
                      {**meta, "family": "translator", "graph": "decoder", "state": names})
        return [enc, dec]
    if isinstance(model, LMClassifier):
        names, states, axes = _states(model.rnn, b)
        width = model.rnn.output_size
        pools = ["pool_max", "pool_sum", "pool_count"]
        pooled = [torch.zeros(b, width), torch.zeros(b, width), torch.ones(b, 1)]
        pool_axes = {n + suffix: {0: "batch"} for n in pools for suffix in ("", "_out")}
        return [_export(_TransferClassifierGraph(model), (torch.zeros(b, t, dtype=torch.long), *states, *pooled),
                        path, ["ids", *names, *pools], ["logits", *(n + "_out" for n in [*names, *pools])],
                        {"ids": {0: "batch", 1: "time"}, "logits": {0: "batch"}, **axes, **pool_axes},
                        {**meta, "family": "transfer classifier", "state": [*names, *pools],
                         "initial_state": {"pool_max": "-inf", "pool_sum": 0, "pool_count": 0, "others": 0}})]
    if isinstance(model, CTCRecognizer):
        names, states, axes = _states(model.encoder, b)
        t = 4 * max(model.config.subsample, 2) + 1  # traced with a length the front end pads
        frames = torch.zeros(b, t, model.config.input_size)
        return [_export(_RecognizerGraph(model), (frames, torch.tensor([t, t - 3]), *states), path,
                        ["frames", "lengths", *names], ["log_probs", "output_lengths", *(n + "_out" for n in names)],
                        {"frames": {0: "batch", 1: "time"}, "lengths": {0: "batch"},
                         "log_probs": {0: "batch", 1: "steps"}, "output_lengths": {0: "batch"}, **axes},
                        {**meta, "family": "recognizer", "state": names, "blank": 0})]
    raise ConfigError(f"no ONNX export for {type(model).__name__}")


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The ``rnnkit`` metadata of an exported file (a one-line error if it has none)."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ConfigError(f"{path}: not an ONNX file ({type(exc).__name__})") from None
    for prop in proto.metadata_props:
        if prop.key == "rnnkit":
            return json.loads(prop.value)
    raise ConfigError(f"{path}: an ONNX file without rnnkit metadata (not exported by rnnkit)")


__all__ = ["export_onnx", "read_onnx_metadata", "OPSET"]
