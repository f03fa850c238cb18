"""Text corpora: strict reading of files, tokenisation, and token ids on disk.

Reading is strict because a language model trained on the wrong bytes fails silently:
a missing, empty, binary or non-UTF-8 file is a one-line ``DataError``.
Token ids are written once to a ``.npy`` file in a cache folder and memory-mapped, so a
large corpus costs 4 bytes a token of page cache, not a Python list.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import os
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rnnkit.data.cache import cached_ids, write_npy_header
from rnnkit.data.vocab import EOS, Vocab
from rnnkit.data.word_split import split_words
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
    if not data or data.isspace():  # (no stripped copy of a large file)
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


CHUNK = 1 << 23  # characters encoded (or hashed) at a time: bounded temporaries on any corpus


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned type that holds every id: a character corpus costs one byte a
    character on disk and in the page cache, a word corpus (< 65,536 words) two bytes a word."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise DataError(f"a vocabulary of {vocab_size:,} tokens is too large")


def iter_lines(text: str) -> Iterator[str]:
    """The lines of ``text``, split on ``\\n`` only (not on the other Unicode line breaks
    ``str.splitlines`` knows), one at a time: no list of every line of a large corpus."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end].rstrip("\r")
        start = end + 1


def iter_text(path: str | os.PathLike, chunk_bytes: int = 1 << 22) -> Iterator[str]:
    """The text of a file a chunk at a time (``.gz`` decompressed on the fly), with the checks
    of :func:`read_text`: for corpora larger than memory. Chunks end anywhere (inside a line)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a text file")
    decoder = codecs.getincrementaldecoder("utf-8")()
    first, has_text, lines_before = True, False, 0
    with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
        while True:
            try:
                data = f.read(chunk_bytes)
            except (OSError, EOFError) as e:
                raise DataError(f"{path} is not a readable gzip file ({e})") from None
            if first and b"\x00" in data[:65536]:
                raise DataError(f"{path} looks like a binary file (it contains NUL bytes), not text")
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as e:
                line = lines_before + data[: max(0, e.start)].count(b"\n") + 1
                raise DataError(f"{path} is not valid UTF-8 (near line {line}); re-encode it, "
                                f"e.g. iconv -f latin1 -t utf-8") from None
            lines_before += data.count(b"\n")
            if first and text.startswith("\ufeff"):
                text = text[1:]  # drop a byte-order mark
            first = False
            has_text = has_text or (bool(text) and not text.isspace())
            if text:
                yield text
            if not data:
                break
    if not has_text:
        raise DataError(f"{path} is empty")


def word_tokens(text: str, tokenizer: str = "whitespace") -> Iterator[str]:
    """The words of each line (split by ``tokenizer``: :mod:`rnnkit.data.word_split`),
    ``<eos>`` after every line (Mikolov's PTB convention)."""
    for line in iter_lines(text):
        yield from split_words(line, tokenizer)
        yield EOS


def tokens(text: str, level: str, tokenizer: str = "whitespace") -> Iterator[str]:
    return iter(text) if level == "char" else word_tokens(text, tokenizer)


def encode_chars(text: str, vocab: Vocab, out: np.ndarray | None = None) -> np.ndarray:
    """Character ids of ``text`` (``int32``, one per code point), written into ``out`` (e.g. a
    memory-mapped file) if given; encoded :data:`CHUNK` characters at a time, so the
    temporaries stay small whatever the corpus size."""
    # Vectorised: code points -> ids through a sorted lookup, no per-character Python.
    known = np.array(sorted(ord(t) for t in vocab.tokens if len(t) == 1), dtype=np.uint32)
    ids_of_known = np.array([vocab.stoi[chr(c)] for c in known], dtype=np.int32)
    result = np.empty(len(text), dtype=np.int32) if out is None else out
    for start in range(0, len(text), CHUNK):
        codes = np.frombuffer(text[start:start + CHUNK].encode("utf-32-le"), dtype=np.uint32)
        pos = np.searchsorted(known, codes).clip(max=len(known) - 1)
        bad = known[pos] != codes
        if bad.any():
            ch = chr(int(codes[np.argmax(bad)]))
            raise DataError(f"character {ch!r} is not in the model's vocabulary ({len(vocab)} characters)")
        result[start:start + len(codes)] = ids_of_known[pos]
    return result


def encode_text(text: str, vocab: Vocab) -> np.ndarray:
    """All token ids of ``text`` as an in-memory ``int32`` array."""
    if vocab.level == "char":
        return encode_chars(text, vocab)
    buf = array("i")
    unk_id = vocab.stoi.get(vocab.unk) if vocab.unk else None
    for tok in word_tokens(text, vocab.tokenizer):
        i = vocab.stoi.get(tok, unk_id)
        if i is None:
            raise DataError(f"word {tok!r} is not in the model's vocabulary")
        buf.append(i)
    return np.frombuffer(buf, dtype=np.int32)


def encode_cached(text: str, vocab: Vocab) -> np.ndarray:
    """Token ids of ``text``, memory-mapped from a cache keyed by the text and the vocabulary.

    Characters are encoded into the file a chunk at a time: a corpus costs its text plus
    small temporaries, not 4-12 bytes a character of arrays in memory."""
    key = hashlib.sha256()
    for start in range(0, len(text), CHUNK):
        key.update(text[start:start + CHUNK].encode("utf-8"))
    key.update(repr(vocab.to_dict()).encode("utf-8"))
    dtype = id_dtype(len(vocab)).newbyteorder("<")

    def write(f: BinaryIO) -> None:
        if vocab.level == "char":  # a chunk at a time: small temporaries whatever the length
            write_npy_header(f, dtype, len(text))
            for start in range(0, len(text), CHUNK):
                f.write(encode_chars(text[start:start + CHUNK], vocab).astype(dtype).tobytes())
        else:
            ids = encode_text(text, vocab)
            write_npy_header(f, dtype, len(ids))
            f.write(ids.astype(dtype).tobytes())

    return cached_ids(key.hexdigest()[:32], write)
