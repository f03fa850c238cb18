"""Turning trained models into sequences: sampling (and, for translation, search)."""

from rnnkit.generation.sampling import (
    Generated,
    generate,
    sample_next,
    sample_next_numpy,
    sample_sequences,
    sample_stream_sequences,
)

__all__ = ["generate", "sample_next", "sample_next_numpy", "sample_sequences", "sample_stream_sequences", "Generated"]
