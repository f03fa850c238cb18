"""Character-level language model on any UTF-8 text file, from Python.

Run: .venv/bin/python examples/char_lm.py path/to/input.txt
"""

import sys

from rnnkit.tasks import lm

path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/tinyshakespeare/input.txt"
settings = lm.LMSettings.from_preset("char-rnn-small", train_files=[path], epochs=1, max_time=60)
result = lm.train(settings, "runs/example-char-lm")
model = lm.load(result.best_checkpoint)
print(model.generate("\n", length=300, temperature=0.8, seed=0))
print(model.evaluate(path, bptt=100))
