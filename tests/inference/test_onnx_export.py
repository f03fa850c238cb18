"""ONNX export of every family: onnxruntime equals rnnkit over a whole padded batch and
over 100 streamed steps (the state passed back in), within 1e-4."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from rnnkit.errors import ConfigError
from rnnkit.inference import LanguageStream, MusicStream, TaggerStream
from rnnkit.inference.onnx_export import export_onnx, read_onnx_metadata
from rnnkit.models import (
    ConditionedLM,
    ConditionedLMConfig,
    LanguageModel,
    LanguageModelConfig,
    LMClassifier,
    LMClassifierConfig,
    Seq2Seq,
    Seq2SeqConfig,
    SequenceClassifier,
    SequenceClassifierConfig,
    SequenceTagger,
    SequenceTaggerConfig,
)
from rnnkit.models.forecaster import ForecastNet, ForecastNetConfig
from rnnkit.models.music_model import PolyphonicModel, PolyphonicModelConfig
from rnnkit.models.recognizer import CTCRecognizer, CTCRecognizerConfig

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
TOL = 1e-4
STEPS = 100


def _session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options)


def _zeros(names, layers, batch, hidden):
    return {n: np.zeros((layers, batch, hidden), np.float32) for n in names}


def _stream_through_onnx(sess, first_input: str, inputs: np.ndarray, names, layers, hidden, extra=None):
    """Feed ``inputs`` (B, T, ...) one step at a time, passing the state back: outputs (B, T, ...)."""
    state = _zeros(names, layers, inputs.shape[0], hidden)
    outs = []
    for t in range(inputs.shape[1]):
        result = sess.run(None, {first_input: inputs[:, t:t + 1], **(extra or {}), **state})
        outs.append(result[0][:, 0])
        state = dict(zip(names, result[1:]))
    return np.stack(outs, 1), state


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_language_model(tmp_path, cell):
    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(20, cell, 12, 2)).eval()
    [path] = export_onnx(model, tmp_path / "lm.onnx", {"vocab": {"tokens": list("abc")}})
    names = ["h", "c"] if cell == "lstm" else ["h"]
    sess = _session(path)
    ids = torch.randint(0, 20, (3, STEPS))
    with torch.no_grad():
        ref, ref_state = model(ids)
    whole = sess.run(None, {"ids": ids.numpy(), **_zeros(names, 2, 3, 12)})
    assert np.abs(whole[0] - ref.numpy()).max() <= TOL
    streamed, state = _stream_through_onnx(sess, "ids", ids.numpy(), names, 2, 12)
    assert np.abs(streamed - LanguageStream(model, 3).feed(ids.numpy())).max() <= TOL
    final = ref_state if isinstance(ref_state, tuple) else (ref_state,)
    for name, p in zip(names, final):
        assert np.abs(state[name] - p.numpy()).max() <= TOL
    meta = read_onnx_metadata(path)
    assert meta["family"] == "language model" and meta["state"] == names and meta["vocab"]["tokens"] == list("abc")


def test_music_model(tmp_path):
    torch.manual_seed(0)
    model = PolyphonicModel(PolyphonicModelConfig(hidden_size=8, num_layers=2)).eval()
    [path] = export_onnx(model, tmp_path / "music.onnx")
    frames = (torch.rand(2, STEPS, 88) < 0.1).float()
    streamed, _ = _stream_through_onnx(_session(path), "frames", frames.numpy(), ["h", "c"], 2, 8)
    assert np.abs(streamed - MusicStream(model, 2).feed(frames.numpy())).max() <= TOL


@pytest.mark.parametrize("bidirectional", [False, True])
def test_tagger_padded_batch_and_stream(tmp_path, bidirectional):
    torch.manual_seed(0)
    config = SequenceTaggerConfig(5, vocab_size=20, embedding_size=6, hidden_size=8, num_layers=2,
                                  bidirectional=bidirectional, num_chars=0 if not bidirectional else 12)
    model = SequenceTagger(config).eval()
    [path] = export_onnx(model, tmp_path / "tagger.onnx")
    sess = _session(path)
    x, lengths = torch.randint(1, 20, (4, 11)), torch.tensor([11, 6, 1, 9])
    d = 2 if bidirectional else 1
    feeds = {"x": x.numpy(), "lengths": lengths.numpy(), **_zeros(["h", "c"], 2 * d, 4, 8)}
    chars = char_lengths = None
    if bidirectional:
        chars, char_lengths = torch.randint(1, 12, (4, 11, 5)), torch.randint(1, 6, (4, 11))
        feeds.update({"chars": chars.numpy(), "char_lengths": char_lengths.numpy()})
    with torch.no_grad():
        ref = model(x, lengths, chars, char_lengths)
    assert np.abs(sess.run(None, feeds)[0] - ref.numpy()).max() <= TOL
    if not bidirectional:
        ids = torch.randint(1, 20, (2, STEPS)).numpy()
        state = _zeros(["h", "c"], 2, 2, 8)
        outs = []
        for t in range(STEPS):
            result = sess.run(None, {"x": ids[:, t:t + 1], "lengths": np.ones(2, np.int64), **state})
            outs.append(result[0][:, 0])
            state = dict(zip(["h", "c"], result[1:]))
        assert np.abs(np.stack(outs, 1) - TaggerStream(model, 2).feed(ids)).max() <= TOL


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_classifier_padded_batch(tmp_path, pooling):
    torch.manual_seed(0)
    model = SequenceClassifier(SequenceClassifierConfig(3, input_size=2, hidden_size=8, num_layers=2,
                                                        pooling=pooling)).eval()
    model.set_input_scaling(torch.tensor([1.0, -1.0]), torch.tensor([2.0, 0.5]))
    [path] = export_onnx(model, tmp_path / "clf.onnx", {"classes": ["a", "b", "c"]})
    x, lengths = torch.randn(4, 13, 2), torch.tensor([13, 2, 7, 1])
    with torch.no_grad():
        ref = model(x, lengths)
    out = _session(path).run(None, {"x": x.numpy(), "lengths": lengths.numpy(), **_zeros(["h", "c"], 4, 4, 8)})
    assert np.abs(out[0] - ref.numpy()).max() <= TOL
    assert read_onnx_metadata(path)["classes"] == ["a", "b", "c"]


def test_classifier_last_pooling_streams_with_the_state(tmp_path):
    torch.manual_seed(0)
    model = SequenceClassifier(SequenceClassifierConfig(3, input_size=2, hidden_size=8, bidirectional=False)).eval()
    [path] = export_onnx(model, tmp_path / "clf.onnx")
    sess = _session(path)
    x = torch.randn(2, STEPS, 2)
    state = _zeros(["h", "c"], 1, 2, 8)
    for t in range(STEPS):
        logits, *rest = sess.run(None, {"x": x[:, t:t + 1].numpy(), "lengths": np.ones(2, np.int64), **state})
        state = dict(zip(["h", "c"], rest))
    with torch.no_grad():
        assert np.abs(logits - model(x).numpy()).max() <= TOL


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_forecaster(tmp_path, decoder):
    torch.manual_seed(0)
    model = ForecastNet(ForecastNetConfig(n_targets=2, horizon=3, n_known=1, hidden_size=8, decoder=decoder,
                                          highway=4, likelihood="gaussian")).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.3)
    [path] = export_onnx(model, tmp_path / "fc.onnx", {"context": 8})
    past, future = torch.randn(5, 8, 3), torch.randn(5, 3, 1)
    with torch.no_grad():
        ref = model(past, future)
    out = _session(path).run(None, {"past": past.numpy(), "future": future.numpy()})
    assert np.abs(out[0] - ref.numpy()).max() <= TOL


def test_conditioned_generator(tmp_path):
    torch.manual_seed(0)
    model = ConditionedLM(ConditionedLMConfig(20, num_labels=3, hidden_size=8, num_layers=2)).eval()
    init, step = export_onnx(model, tmp_path / "cond.onnx")
    assert (init.name, step.name) == ("cond.init.onnx", "cond.step.onnx")
    cond, ids = torch.tensor([0, 2]), torch.randint(0, 20, (2, STEPS))
    with torch.no_grad():
        ref, _ = model(ids, cond)
    vector, h, c = _session(init).run(None, {"condition": cond.numpy()})
    sess = _session(step)
    whole = sess.run(None, {"ids": ids.numpy(), "condition_vector": vector, "h": h, "c": c})[0]
    assert np.abs(whole - ref.numpy()).max() <= TOL
    outs = []
    for t in range(STEPS):
        logits, h, c = sess.run(None, {"ids": ids[:, t:t + 1].numpy(), "condition_vector": vector, "h": h, "c": c})
        outs.append(logits[:, 0])
    assert np.abs(np.stack(outs, 1) - ref.numpy()).max() <= TOL


@pytest.mark.parametrize("attention", ["general", "additive", "none"])
def test_translator_encoder_and_decoder_step(tmp_path, attention):
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(15, 20, hidden_size=8, embedding_size=6, attention=attention)).eval()
    enc, dec = export_onnx(model, tmp_path / "tr.onnx")
    src, lengths, tgt = torch.randint(1, 15, (3, 7)), torch.tensor([7, 4, 2]), torch.randint(1, 20, (3, STEPS))
    with torch.no_grad():
        ref = model(src, lengths, tgt)
    memory, keys, mask, feed, h, c = _session(enc).run(None, {"src": src.numpy(), "src_lengths": lengths.numpy()})
    sess = _session(dec)
    wanted = read_onnx_metadata(dec)["inputs"]  # without attention the decoder reads no memory
    assert wanted == [i.name for i in sess.get_inputs()]
    outs = []
    for t in range(STEPS):
        feeds = {"tokens": tgt[:, t].numpy(), "memory": memory, "keys": keys, "mask": mask, "feed": feed, "h": h,
                 "c": c}
        logits, _, feed, h, c = sess.run(None, {k: v for k, v in feeds.items() if k in wanted})
        outs.append(logits)
    assert np.abs(np.stack(outs, 1) - ref.numpy()).max() <= TOL


def test_export_errors(tmp_path):
    with pytest.raises(ConfigError, match="no ONNX export for Linear"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "x.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ConfigError, match="not an ONNX file"):
        read_onnx_metadata(bad)


def test_cli_export_of_a_saved_estimator(tmp_path):
    import rnnkit

    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 6, 1)).astype(np.float32)
    y = np.where(X[:, :, 0].mean(1) > 0, "up", "down")
    clf = rnnkit.RNNClassifier(hidden_size=8, conv_branch=False, epochs=1, device="cpu").fit(X, y)
    ckpt = clf.save(tmp_path / "clf.safetensors")
    run = subprocess.run([sys.executable, "-m", "rnnkit", "export", str(ckpt)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    out = tmp_path / "clf.onnx"
    meta = read_onnx_metadata(out)
    assert meta["family"] == "classifier" and meta["classes"] == ["down", "up"] and meta["estimator"] == "RNNClassifier"
    probs = _session(out).run(None, {"x": X, "lengths": np.full(12, 6, np.int64),
                                     **_zeros(["h", "c"], 2, 12, 8)})[0]
    e = np.exp(probs - probs.max(-1, keepdims=True))
    np.testing.assert_allclose(e / e.sum(-1, keepdims=True), clf.predict_proba(X), atol=1e-4)
    json.dumps(meta)  # plain JSON all the way down
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00" * 10)
    run = subprocess.run([sys.executable, "-m", "rnnkit", "export", str(corrupt)], capture_output=True, text=True)
    assert run.returncode != 0 and "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    run = subprocess.run([sys.executable, "-m", "rnnkit", "export", str(ckpt), "--format", "tflite"],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "unknown export format 'tflite'" in run.stderr


def test_cli_export_of_a_checkpoint_without_its_task_is_one_line(tmp_path):
    from rnnkit.training.checkpoint import Checkpoint, save_checkpoint

    path = save_checkpoint(tmp_path / "bare.safetensors", Checkpoint(meta={}, tensors={"w": torch.zeros(2)}))
    run = subprocess.run([sys.executable, "-m", "rnnkit", "export", str(path)], capture_output=True, text=True)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "without a known task" in run.stderr


def test_music_model_whole_batch(tmp_path):
    torch.manual_seed(0)
    model = PolyphonicModel(PolyphonicModelConfig(hidden_size=8, cell="gru")).eval()
    [path] = export_onnx(model, tmp_path / "music.onnx")
    frames = (torch.rand(3, 40, 88) < 0.1).float()
    with torch.no_grad():
        ref, state = model(frames)
    logits, h = _session(path).run(None, {"frames": frames.numpy(), "h": np.zeros((1, 3, 8), np.float32)})
    assert np.abs(logits - ref.numpy()).max() <= TOL and np.abs(h - state.numpy()).max() <= TOL


@pytest.mark.parametrize("cell", ["mingru", "slstm", "layernorm_lstm"])
def test_whole_sequence_models_with_new_cells_are_refused_in_one_line(tmp_path, cell):
    model = SequenceClassifier(SequenceClassifierConfig(2, vocab_size=10, hidden_size=8, cell=cell))
    with pytest.raises(ConfigError, match=f"a SequenceClassifier with {cell} has no ONNX export"):
        export_onnx(model, tmp_path / "m.onnx")


STEP_CELLS = ["peephole_lstm", "layernorm_lstm", "mingru", "minlstm", "slstm", "mlstm"]


@pytest.mark.parametrize("cell", STEP_CELLS)
def test_new_cells_export_as_one_step_graphs_that_stream(tmp_path, cell):
    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(20, cell, 12, 2)).eval()
    [path] = export_onnx(model, tmp_path / "lm.onnx")
    meta = read_onnx_metadata(path)
    assert meta["steps_per_call"] == 1
    names = meta["state"]
    sizes = model.rnn.state_size
    sess = _session(path)
    ids = torch.randint(0, 20, (3, 40))
    state = {n: np.zeros((2, 3, size), np.float32) for n, size in zip(names, sizes)}
    outs = []
    for t in range(ids.shape[1]):
        result = sess.run(None, {"ids": ids[:, t:t + 1].numpy(), **state})
        outs.append(result[0][:, 0])
        state = dict(zip(names, result[1:]))
    with torch.no_grad():
        ref, ref_state = model(ids)  # the whole sequence (the parallel form for scan cells)
    assert np.abs(np.stack(outs, 1) - ref.numpy()).max() <= TOL
    final = ref_state if isinstance(ref_state, tuple) else (ref_state,)
    for name, p in zip(names, final):
        assert np.abs(state[name] - p.numpy()).max() <= TOL


def test_projection_and_zoneout_export_as_one_step_graphs(tmp_path):
    torch.manual_seed(0)
    for config in (LanguageModelConfig(20, "lstm", 12, 1, proj_size=6),
                   LanguageModelConfig(20, "gru", 12, 1, zoneout=0.2)):
        model = LanguageModel(config).eval()
        [path] = export_onnx(model, tmp_path / "lm.onnx")
        names, sizes = read_onnx_metadata(path)["state"], model.rnn.state_size
        ids = torch.randint(0, 20, (2, 10))
        state = {n: np.zeros((1, 2, size), np.float32) for n, size in zip(names, sizes)}
        sess, outs = _session(path), []
        for t in range(10):
            result = sess.run(None, {"ids": ids[:, t:t + 1].numpy(), **state})
            outs.append(result[0][:, 0])
            state = dict(zip(names, result[1:]))
        with torch.no_grad():
            ref, _ = model(ids)
        assert np.abs(np.stack(outs, 1) - ref.numpy()).max() <= TOL


def test_new_cell_forecaster_exports_over_its_fixed_context(tmp_path):
    torch.manual_seed(0)
    model = ForecastNet(ForecastNetConfig(n_targets=1, horizon=3, cell="mingru", hidden_size=8)).eval()
    [path] = export_onnx(model, tmp_path / "f.onnx", {"context": 12})
    past, future = torch.randn(2, 12, 1), torch.zeros(2, 3, 0)
    with torch.no_grad():
        ref = model(past, future)
    got = _session(path).run(None, {"past": past.numpy(), "future": future.numpy()})[0]
    assert np.abs(got - ref.numpy()).max() <= TOL


def test_new_cell_tagger_and_conditioned_generator_stream_one_step_per_call(tmp_path):
    torch.manual_seed(0)
    tagger = SequenceTagger(SequenceTaggerConfig(5, vocab_size=20, embedding_size=6, hidden_size=8,
                                                 cell="minlstm", bidirectional=False)).eval()
    [path] = export_onnx(tagger, tmp_path / "tagger.onnx")
    ids = torch.randint(1, 20, (2, 30)).numpy()
    layers = tagger.config.num_layers
    state, outs, sess = {"h": np.zeros((layers, 2, 8), np.float32)}, [], _session(path)
    for t in range(30):
        result = sess.run(None, {"x": ids[:, t:t + 1], "lengths": np.ones(2, np.int64), **state})
        outs.append(result[0][:, 0])
        state = {"h": result[1]}
    assert np.abs(np.stack(outs, 1) - TaggerStream(tagger, 2).feed(ids)).max() <= TOL

    model = ConditionedLM(ConditionedLMConfig(20, num_labels=3, hidden_size=8, cell="slstm")).eval()
    init, step = export_onnx(model, tmp_path / "cond.onnx")
    cond, ids_t = torch.tensor([0, 2]), torch.randint(0, 20, (2, 30))
    with torch.no_grad():
        ref, _ = model(ids_t, cond)
    vector, *st = _session(init).run(None, {"condition": cond.numpy()})
    names = read_onnx_metadata(step)["state"]
    assert names == ["h", "c", "n", "m"]
    sess, outs = _session(step), []
    for t in range(30):
        logits, *st = sess.run(None, {"ids": ids_t[:, t:t + 1].numpy(), "condition_vector": vector,
                                      **dict(zip(names, st))})
        outs.append(logits[:, 0])
    assert np.abs(np.stack(outs, 1) - ref.numpy()).max() <= TOL


def test_a_bidirectional_new_cell_tagger_is_refused(tmp_path):
    model = SequenceTagger(SequenceTaggerConfig(5, vocab_size=20, hidden_size=8, cell="mingru", bidirectional=True))
    with pytest.raises(ConfigError, match="is bidirectional"):
        export_onnx(model, tmp_path / "t.onnx")


def _recognizer(front_end="stack", subsample=2, bidirectional=True, **kw):
    torch.manual_seed(0)
    model = CTCRecognizer(CTCRecognizerConfig(input_size=12, num_labels=5, hidden_size=8, front_end=front_end,
                                              subsample=subsample, bidirectional=bidirectional, conv_channels=4,
                                              **kw)).eval()
    model.set_input_scaling(torch.randn(12), torch.rand(12) + 0.5)  # the scaling travels inside the graph
    return model


@pytest.mark.parametrize("front_end, subsample, bidirectional",
                         [("stack", 2, True), ("stack", 3, False), ("none", 1, False), ("conv", 2, True),
                          ("conv2d", 4, True)])
def test_recognizer_padded_batch_of_any_length(tmp_path, front_end, subsample, bidirectional):
    model = _recognizer(front_end, subsample, bidirectional)
    [path] = export_onnx(model, tmp_path / "rec.onnx")
    meta = read_onnx_metadata(path)
    assert meta["family"] == "recognizer" and meta["blank"] == 0 and meta["model"] == "CTCRecognizer"
    sess, layers = _session(path), model.encoder.num_layers * model.encoder.num_directions
    # lengths the export was not traced with, padded utterances, and a batch of another size
    for frames, lengths in ((30, [30, 30, 2]), (11, [11, 7, 1]), (6, [6, 5, 3, 6])):
        x, lens = torch.randn(len(lengths), frames, 12), torch.tensor(lengths)
        state = {n: np.zeros((layers, len(lengths), size), np.float32)
                 for n, size in zip(meta["state"], model.encoder.state_size)}
        log_probs, out_lengths = sess.run(None, {"frames": x.numpy(), "lengths": lens.numpy(), **state})[:2]
        with torch.no_grad():
            ref, ref_lengths = model(x, lens)
        np.testing.assert_array_equal(out_lengths, ref_lengths.numpy())
        assert log_probs.shape == tuple(ref.shape)
        valid = (torch.arange(ref.shape[1])[None] < ref_lengths[:, None]).numpy()
        assert np.abs(log_probs - ref.numpy())[valid].max() <= TOL


def test_unidirectional_recognizer_streams_chunks_with_the_state(tmp_path):
    model = _recognizer("stack", 2, bidirectional=False)
    [path] = export_onnx(model, tmp_path / "rec.onnx")
    names, sess = read_onnx_metadata(path)["state"], _session(path)
    x = torch.randn(2, 24, 12)
    state = {n: np.zeros((2, 2, size), np.float32) for n, size in zip(names, model.encoder.state_size)}
    chunks = []
    for start in range(0, 24, 6):  # chunks of whole stacked steps, the state passed back in
        result = sess.run(None, {"frames": x[:, start:start + 6].numpy(), "lengths": np.full(2, 6, np.int64),
                                 **state})
        chunks.append(result[0])
        state = dict(zip(names, result[2:]))
    with torch.no_grad():
        whole, _ = model(x)
    assert np.abs(np.concatenate(chunks, 1) - whole.numpy()).max() <= TOL


def test_recognizer_with_zoneout_is_refused_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="CTCRecognizer with lstm with zoneout has no ONNX export.*whole sequences"):
        export_onnx(_recognizer(bidirectional=False, zoneout=0.1), tmp_path / "rec.onnx")


def test_cli_export_of_a_recognizer(tmp_path):
    from rnnkit.tasks.recognize import Recognizer

    rng = np.random.default_rng(0)
    protos = {c: rng.normal(0, 1, 6) for c in "ab"}
    X, y = [], []
    for _ in range(24):
        text = "".join(rng.choice(list("ab"), int(rng.integers(1, 4))))
        X.append(np.concatenate([protos[c] + rng.normal(0, 0.2, (4, 6)) for c in text]).astype(np.float32))
        y.append(text)
    rec = Recognizer(hidden_size=8, num_layers=1, epochs=2, device="cpu").fit(X, y)
    ckpt = rec.save(tmp_path / "rec.safetensors")
    run = subprocess.run([sys.executable, "-m", "rnnkit", "export", str(ckpt)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    meta = read_onnx_metadata(tmp_path / "rec.onnx")
    assert meta["family"] == "recognizer" and meta["alphabet"] == rec.alphabet_ and meta["estimator"] == "Recognizer"
    lengths = np.array([len(f) for f in X])
    frames = np.zeros((len(X), lengths.max(), 6), np.float32)
    for i, f in enumerate(X):
        frames[i, :len(f)] = f
    sess = _session(tmp_path / "rec.onnx")
    layers = rec.model_.encoder.num_layers * rec.model_.encoder.num_directions
    state = {n: np.zeros((layers, len(X), size), np.float32)
             for n, size in zip(meta["state"], rec.model_.encoder.state_size)}
    log_probs, out_lengths = sess.run(None, {"frames": frames, "lengths": lengths, **state})[:2]
    for i, expected in enumerate(rec.log_probs(X)):  # the estimator's own per-utterance scores
        np.testing.assert_allclose(log_probs[i, :out_lengths[i]], expected, atol=TOL)


def _pool_state(names, sizes, layers, batch, width):
    state = {n: np.zeros((layers, batch, size), np.float32) for n, size in zip(names, sizes)}
    return {**state, "pool_max": np.full((batch, width), -np.inf, np.float32),
            "pool_sum": np.zeros((batch, width), np.float32), "pool_count": np.zeros((batch, 1), np.float32)}


@pytest.mark.parametrize("proj_size", [0, 5])
def test_transfer_classifier_streams_with_its_pooling_as_state(tmp_path, proj_size):
    # the awd-lstm preset's LSTMP has no ONNX operator: a one-step graph; a plain LSTM takes chunks
    torch.manual_seed(0)
    lm = LanguageModelConfig(vocab_size=20, hidden_size=8, num_layers=2, embedding_size=6, proj_size=proj_size,
                             weight_drop=0.3, dropout=0.2)
    model = LMClassifier(LMClassifierConfig(num_classes=3, language_model=lm, head_hidden=7)).eval()
    [path] = export_onnx(model, tmp_path / "clf.onnx")
    meta = read_onnx_metadata(path)
    assert meta["family"] == "transfer classifier" and meta["initial_state"]["pool_max"] == "-inf"
    rnn_names = [n for n in meta["state"] if not n.startswith("pool_")]
    sess, ids = _session(path), torch.randint(0, 20, (2, 9))
    state = _pool_state(rnn_names, model.rnn.state_size, 2, 2, model.rnn.output_size)
    chunk = 1 if proj_size else 3
    for start in range(0, 9, chunk):  # the state passed back in after every chunk
        result = sess.run(None, {"ids": ids[:, start:start + chunk].numpy(), **state})
        state = dict(zip(meta["state"], result[1:]))
        with torch.no_grad():
            want = model(ids[:, :start + chunk]).numpy()  # the prediction for the text so far
        assert np.abs(result[0] - want).max() <= TOL


@pytest.mark.parametrize("znorm", [False, True])
def test_lstm_fcn_classifier_reads_whole_padded_series(tmp_path, znorm):
    # the series default (BiLSTM with the convolutional branch): batch norm's running statistics,
    # "same" padding and the masked average over lengths it was not traced with
    torch.manual_seed(0)
    model = SequenceClassifier(SequenceClassifierConfig(3, input_size=2, hidden_size=8, num_layers=1,
                                                        conv_branch=True, znorm=znorm)).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    [path] = export_onnx(model, tmp_path / "fcn.onnx")
    meta, sess = read_onnx_metadata(path), _session(path)
    assert meta["whole_sequences"] is True and meta["family"] == "classifier"
    for steps, lengths in ((20, [20, 13, 9]), (7, [7, 7, 2])):
        x, lens = torch.randn(3, steps, 2), torch.tensor(lengths)
        logits = sess.run(None, {"x": x.numpy(), "lengths": lens.numpy(), **_zeros(meta["state"], 2, 3, 8)})[0]
        with torch.no_grad():
            assert np.abs(logits - model(x, lens).numpy()).max() <= TOL


def test_export_drops_the_exporters_packing_notes_and_passes_other_errors_through(tmp_path, capfd):
    """torch's exporter writes from C++ that it cannot infer shapes through packed sequences;
    those notes read like a fault and are dropped, anything else on standard error is kept."""
    from rnnkit.inference import onnx_export

    model = SequenceClassifier(SequenceClassifierConfig(2, input_size=1, hidden_size=4, num_layers=1)).eval()
    export_onnx(model, tmp_path / "clf.onnx", {"classes": ["a", "b"]})
    assert "PackPadded" not in capfd.readouterr().err
    with onnx_export._without_packing_notes():
        import os
        os.write(2, b"Warning: shape inference of prim::PackPadded type is missing\nsomething else\n")
    assert capfd.readouterr().err == "something else\n"
