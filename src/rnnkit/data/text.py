"""Text corpora: strict reading of files, tokenisation, and token ids on disk.

Reading is strict because a language model trained on the wrong bytes fails silently:
a missing, empty, binary or non-UTF-8 file is a one-line ``DataError``.
Token ids are written once to a ``.npy`` file in a cache folder and memory-mapped, so a
large corpus costs 4 bytes a token of page cache, not a Python list.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from array import array
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rnnkit.data.cache import cache_dir, evict
from rnnkit.data.vocab import EOS, Vocab
from rnnkit.errors import DataError


def read_text(path: str | os.PathLike) -> str:
    """The whole file as text, or a ``DataError`` saying exactly what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a text file")
    data = path.read_bytes()
    if path.suffix == ".gz":  # Multi30k and many corpora ship gzipped
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise DataError(f"{path} is not a readable gzip file ({e})") from None
    if not data.strip():
        raise DataError(f"{path} is empty")
    if b"\x00" in data[:65536]:
        raise DataError(f"{path} looks like a binary file (it contains NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(f"{path} is not valid UTF-8 (byte 0x{data[e.start]:02x} on line {line}); "
                        f"re-encode it, e.g. iconv -f latin1 -t utf-8") from None
    return text[1:] if text.startswith("\ufeff") else text  # drop a byte-order mark


def word_tokens(text: str) -> Iterator[str]:
    """Whitespace-split words, ``<eos>`` after every line (Mikolov's PTB convention)."""
    for line in text.splitlines():
        yield from line.split()
        yield EOS


def tokens(text: str, level: str) -> Iterator[str]:
    return iter(text) if level == "char" else word_tokens(text)


def encode_text(text: str, vocab: Vocab) -> np.ndarray:
    """All token ids of ``text`` as an in-memory ``int32`` array."""
    if vocab.level == "char":
        # Vectorised: code points -> ids through a sorted lookup, no per-character Python.
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        known = np.array(sorted(ord(t) for t in vocab.tokens if len(t) == 1), dtype=np.uint32)
        ids_of_known = np.array([vocab.stoi[chr(c)] for c in known], dtype=np.int32)
        pos = np.searchsorted(known, codes).clip(max=len(known) - 1)
        bad = known[pos] != codes
        if bad.any():
            ch = chr(int(codes[np.argmax(bad)]))
            raise DataError(f"character {ch!r} is not in the model's vocabulary ({len(vocab)} characters)")
        return ids_of_known[pos]
    buf = array("i")
    unk_id = vocab.stoi.get(vocab.unk) if vocab.unk else None
    for tok in word_tokens(text):
        i = vocab.stoi.get(tok, unk_id)
        if i is None:
            raise DataError(f"word {tok!r} is not in the model's vocabulary")
        buf.append(i)
    return np.frombuffer(buf, dtype=np.int32).copy()


def encode_cached(text: str, vocab: Vocab) -> np.ndarray:
    """Token ids of ``text``, memory-mapped from a cache keyed by the text and the vocabulary."""
    key = hashlib.sha256()
    key.update(text.encode("utf-8"))
    key.update(repr(vocab.to_dict()).encode("utf-8"))
    target = cache_dir() / "token-ids" / f"{key.hexdigest()[:32]}.npy"
    if not target.exists():
        ids = encode_text(text, vocab)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, ids)
        os.replace(tmp, target)  # atomic: concurrent runs never see half a file
        evict(keep=target)  # the cache stays within its limit
    return np.load(target, mmap_mode="r")
