"""Time-series classification (many-to-one) with the scikit-learn-style estimator.

Run: .venv/bin/python examples/classify_series.py [A_TRAIN.tsv A_TEST.tsv]
Without arguments it uses the UCR Coffee files under ../shared/data when present, else a
synthetic two-class problem of variable-length random walks.
"""

import sys
from pathlib import Path

import numpy as np

from rnnkit import RNNClassifier
from rnnkit.data.ucr import read_series_file

coffee = Path("../shared/data/ucr/Coffee")
if len(sys.argv) == 3:
    train, test = read_series_file(sys.argv[1]), read_series_file(sys.argv[2])
    X_train, y_train, X_test, y_test = train.series, train.labels, test.series, test.labels
elif coffee.is_dir():
    train, test = read_series_file(coffee / "Coffee_TRAIN.tsv"), read_series_file(coffee / "Coffee_TEST.tsv")
    X_train, y_train, X_test, y_test = train.series, train.labels, test.series, test.labels
else:
    rng = np.random.default_rng(0)
    y = rng.choice(["up", "down"], 200)
    X = [np.cumsum(rng.normal(0.2 if c == "up" else -0.2, 1.0, (rng.integers(30, 60), 1)), axis=0) for c in y]
    X_train, y_train, X_test, y_test = X[:150], y[:150], X[150:], y[150:]

# LSTM-FCN: a BiLSTM plus a convolutional branch; the model is chosen by its training loss
# (validation_fraction=0), as the UCR papers do for their tiny training sets.
clf = RNNClassifier(conv_branch=True, hidden_size=64, epochs=40, lr=3e-3, schedule="cosine", batch_size=16,
                    validation_fraction=0.0, early_stopping=None, verbose=True)
clf.fit(X_train, y_train)
print(clf)
print("classes:", clf.classes_, " test accuracy:", round(clf.score(X_test, y_test), 3))
print("first test probabilities:", clf.predict_proba(X_test[:1]).round(3))
clf.save("runs/example-classifier.safetensors")
print("reloaded:", RNNClassifier.load("runs/example-classifier.safetensors").predict(X_test[:5]))
