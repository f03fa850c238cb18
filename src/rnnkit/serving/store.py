"""Durable sessions: one SQLite row per session, written before a step is acknowledged.

SQLite in WAL mode with ``synchronous=NORMAL``: a commit reaches the write-ahead log before
it returns, so killing the server (even ``SIGKILL``) loses no committed step; only a power
failure can lose the last commits (``durability="full"`` syncs every commit to disk, at
about 10x the cost per commit). All sessions stepped together are written in one
transaction. State arrays are stored raw (:func:`pack_state`): a JSON header of names,
dtypes and shapes, then the bytes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    last_used REAL NOT NULL,
    steps INTEGER NOT NULL,
    state BLOB NOT NULL,
    info TEXT NOT NULL
)
"""


def pack_state(arrays: dict[str, np.ndarray]) -> bytes:
    """Named arrays -> bytes: a 4-byte header length, a JSON header, the raw data."""
    header = json.dumps([[k, v.dtype.str, list(v.shape)] for k, v in arrays.items()]).encode()
    return len(header).to_bytes(4, "little") + header + b"".join(np.ascontiguousarray(v).tobytes()
                                                                  for v in arrays.values())


def unpack_state(blob: bytes) -> dict[str, np.ndarray]:
    n = int.from_bytes(blob[:4], "little")
    offset = 4 + n
    out = {}
    for name, dtype, shape in json.loads(blob[4:offset].decode()):
        dt = np.dtype(dtype)
        size = int(np.prod(shape)) * dt.itemsize
        out[name] = np.frombuffer(blob[offset:offset + size], dt).reshape(shape).copy()
        offset += size
    return out


@dataclass
class SessionRecord:
    id: str
    model: str
    created: float
    last_used: float
    steps: int
    state: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)  # family extras: sampling RNG, last output ...


class SessionStore:
    """Sessions in one SQLite file (``":memory:"`` for none that survives)."""

    def __init__(self, path: str | Path = ":memory:", durability: str = "normal") -> None:
        if durability not in ("normal", "full"):
            raise ConfigError(f"durability must be normal or full, got {durability!r}")
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={durability.upper()}")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path}: not a usable session database ({exc})") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, records: list[SessionRecord]) -> None:
        """Insert or replace ``records`` in one transaction (committed when this returns)."""
        rows = [(r.id, r.model, r.created, r.last_used, r.steps, pack_state(r.state), json.dumps(r.info))
                for r in records]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def get(self, session_id: str) -> SessionRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        return SessionRecord(row[0], row[1], row[2], row[3], row[4], unpack_state(row[5]), json.loads(row[6]))

    def delete(self, session_ids: list[str]) -> int:
        with self._lock:
            cur = self._db.executemany("DELETE FROM sessions WHERE id = ?", [(i,) for i in session_ids])
            return cur.rowcount

    def count(self, model: str | None = None) -> int:
        with self._lock:
            if model is None:
                return int(self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM sessions WHERE model = ?", (model,)).fetchone()[0])

    def idle(self, seconds: float) -> list[str]:
        """Sessions unused for more than ``seconds``."""
        with self._lock:
            rows = self._db.execute("SELECT id FROM sessions WHERE last_used < ?", (time.time() - seconds,))
            return [r[0] for r in rows.fetchall()]


__all__ = ["SessionStore", "SessionRecord", "pack_state", "unpack_state"]
