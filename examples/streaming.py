"""Streaming inference: a sensor classifier that answers after every reading, keeps its
state across a restart, and leaves rnnkit as an ONNX graph with the state in and out.

Run: .venv/bin/python examples/streaming.py        (the ONNX part needs: pip install 'rnnkit[onnx]')
"""

import numpy as np

from rnnkit import RNNClassifier

# Toy sensor data: rising series are "up", falling ones "down".
rng = np.random.default_rng(0)
slopes = rng.choice([-1.0, 1.0], size=200)
X = (slopes[:, None] * np.linspace(0, 1, 30)[None] + 0.3 * rng.normal(size=(200, 30)))[..., None]
y = np.where(slopes > 0, "up", "down")

# A stream needs a model that reads forward in time and needs no whole series: bidirectional=False,
# no convolutional branch (the series default, LSTM-FCN, has one) and no per-series z-normalisation.
clf = RNNClassifier(hidden_size=32, bidirectional=False, conv_branch=False, znorm=False, epochs=20,
                    device="cpu").fit(X, y)

stream = clf.stream()                     # one open sequence; clf.stream(batch=64) for 64 at once
print(stream.explain())
for t, reading in enumerate(X[0, :15, 0]):
    logits = stream.step(np.array([[reading]], np.float32))     # (1, 1) -> (1, 2), constant cost
    probs = np.exp(logits[0]) / np.exp(logits[0]).sum()
    print(f"after reading {t + 1:2d}: " + ", ".join(f"{k} {p:.3f}" for k, p in zip(clf.classes_, probs)))

saved = stream.to_bytes()                 # the whole state, e.g. into a database; names its model
restored = clf.stream()
restored.restore(saved)                   # ... after a restart
rest = X[0, 15:, 0].reshape(1, -1, 1).astype(np.float32)
final = restored.feed(rest)[:, -1]        # a chunk of 15 readings at once
print("final answer:", clf.classes_[final.argmax()], "(true:", y[0] + ")")
assert np.allclose(final, stream.feed(rest)[:, -1], atol=1e-6)

try:
    import onnxruntime as ort
except ImportError:
    raise SystemExit("pip install 'rnnkit[onnx]' for the export part") from None
[path] = clf.export("sensor.onnx")        # same as: rnnkit export sensor.safetensors
session = ort.InferenceSession(str(path))
h = c = np.zeros((1, 1, 32), np.float32)
for reading in X[0, :, 0]:
    logits, h, c = session.run(None, {"x": np.array([[[reading]]], np.float32), "lengths": np.array([1]),
                                      "h": h, "c": c})
print("onnxruntime, streamed:", clf.classes_[logits.argmax()])
