"""Generation on top of a model's ``step()``: greedy, temperature, top-k, top-p."""

from rnnkit.generation.sampling import Generated, generate, sample_next

__all__ = ["generate", "sample_next", "Generated"]
