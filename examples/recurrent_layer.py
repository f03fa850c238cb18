"""The Recurrent layer: torch-compatible, variable lengths, step by step, two backends.

Run: .venv/bin/python examples/recurrent_layer.py
"""

import torch

from rnnkit import Recurrent

torch.manual_seed(0)
lstm = Recurrent("lstm", input_size=3, hidden_size=5, num_layers=2, batch_first=True, bidirectional=True)
print(lstm.explain())

x = torch.randn(2, 6, 3)
out, (h, c) = lstm(x, lengths=torch.tensor([6, 4]))
print("output", tuple(out.shape), "- zero past length 4:", bool((out[1, 4:] == 0).all()))

# The same weights in torch.nn.LSTM give the same numbers.
reference = lstm.to_torch()
with torch.no_grad():
    print("max |ours - torch.nn.LSTM| =", float((lstm(x)[0] - reference(x)[0]).abs().max()))

# Streaming: one step at a time with the state carried equals the full sequence.
uni = Recurrent("gru", 3, 5, num_layers=2, batch_first=True)
full, _ = uni(x)
state, steps = None, []
for t in range(x.shape[1]):
    y, state = uni.step(x[:, t], state)
    steps.append(y)
print("step-by-step == full:", torch.allclose(torch.stack(steps, 1), full, atol=1e-6))
