"""The cache of encoded corpora stays within its limit (least recently used out first, never
the entry just written) and the CLI shows and clears it."""

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnkit.cli.main import app
from rnnkit.data import Vocab
from rnnkit.data.cache import cache_entries, cache_limit
from rnnkit.data.text import encode_cached
from rnnkit.errors import ConfigError


def test_cache_is_bounded_and_cleared(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    vocab = Vocab.build_chars(["ab"])
    first = encode_cached("ab" * 10_000, vocab)  # 20,000 ids, one byte each: 20 kB
    assert len(cache_entries()) == 1
    monkeypatch.setenv("RNNKIT_CACHE_LIMIT", "30K")
    second = encode_cached("ba" * 10_000, vocab)  # together over 30 kB: the older one goes
    assert len(cache_entries()) == 1 and np.array_equal(second[:2], [1, 0])
    assert np.array_equal(first[:2], [0, 1])  # a mapped entry stays readable after eviction
    r = CliRunner().invoke(app, ["cache", "info"])
    assert r.exit_code == 0 and "1 encoded corpora" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["cache", "clear"])
    assert r.exit_code == 0 and "removed 1 files" in r.output and cache_entries() == []


def test_cache_limit_is_read_with_units(monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE_LIMIT", "2G")
    assert cache_limit() == 2 * 1024**3
    monkeypatch.setenv("RNNKIT_CACHE_LIMIT", "lots")
    with pytest.raises(ConfigError, match="RNNKIT_CACHE_LIMIT"):
        cache_limit()
