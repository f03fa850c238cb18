"""Durable sessions: one row per session, written before a step is acknowledged.

SQLite in WAL mode with ``synchronous=NORMAL``: a commit reaches the write-ahead log before
it returns, so killing the server (even ``SIGKILL``) loses no committed step; only a power
failure can lose the last commits (``durability="full"`` syncs every commit to disk, at
about 10x the cost per commit). All sessions stepped together are written in one
transaction. State arrays are stored raw (:func:`pack_state`): a JSON header of names,
dtypes and shapes, then the bytes.

Several server processes can share sessions through a database URL (``postgresql://...``,
through SQLAlchemy: the ``postgres`` extra): :class:`SqlSessionStore` writes a step only if
the row still holds the step count it was computed from, so two processes stepping one
session at once cannot both win -- the loser's request gets a conflict to retry.
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
    """Sessions in one SQLite file (``":memory:"`` for none that survives), for one server
    process (``shared`` is False: the server may cache sessions in memory)."""

    shared = False

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

    def put(self, records: list[SessionRecord], expected: dict[str, int] | None = None) -> set[str]:
        """Insert or replace ``records`` in one transaction (committed when this returns).
        ``expected`` (id -> the step count a record was computed from) is checked by shared
        stores; returns the ids that lost a race (always none here: one process)."""
        rows = [(r.id, r.model, r.created, r.last_used, r.steps, pack_state(r.state), json.dumps(r.info))
                for r in records]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")
        return set()

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


class SqlSessionStore:
    """Sessions in any SQLAlchemy database (PostgreSQL for several server processes), with
    optimistic concurrency on the step count (``shared``: no in-memory caching)."""

    shared = True

    def __init__(self, url: str) -> None:
        try:
            import sqlalchemy as sa
        except ImportError:
            raise ConfigError("a database URL needs SQLAlchemy and a driver: pip install 'rnnkit[postgres]'") from None
        self.sa = sa
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
            meta = sa.MetaData()
            self.table = sa.Table(
                "rnnkit_sessions", meta,
                sa.Column("id", sa.String(64), primary_key=True), sa.Column("model", sa.String(200), nullable=False),
                sa.Column("created", sa.Float, nullable=False), sa.Column("last_used", sa.Float, nullable=False),
                sa.Column("steps", sa.Integer, nullable=False), sa.Column("state", sa.LargeBinary, nullable=False),
                sa.Column("info", sa.Text, nullable=False))
            meta.create_all(self.engine)
        except (sa.exc.SQLAlchemyError, ImportError) as exc:
            raise ConfigError(f"cannot open the session database {url!r}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0]}") from None
        self.path = url

    def close(self) -> None:
        self.engine.dispose()

    def put(self, records: list[SessionRecord], expected: dict[str, int] | None = None) -> set[str]:
        sa, t = self.sa, self.table
        lost: set[str] = set()
        with self.engine.begin() as conn:
            for r in records:
                values = {"model": r.model, "created": r.created, "last_used": r.last_used, "steps": r.steps,
                          "state": pack_state(r.state), "info": json.dumps(r.info)}
                before = None if expected is None else expected.get(r.id)
                if before is None:  # a new session (or a reset): insert or overwrite
                    done = conn.execute(sa.update(t).where(t.c.id == r.id).values(**values)).rowcount
                    if not done:
                        conn.execute(sa.insert(t).values(id=r.id, **values))
                else:
                    result = conn.execute(sa.update(t).where(t.c.id == r.id, t.c.steps == before).values(**values))
                    if not result.rowcount:
                        lost.add(r.id)
        return lost

    def get(self, session_id: str) -> SessionRecord | None:
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(self.sa.select(t).where(t.c.id == session_id)).first()
        if row is None:
            return None
        return SessionRecord(row.id, row.model, row.created, row.last_used, row.steps, unpack_state(row.state),
                             json.loads(row.info))

    def delete(self, session_ids: list[str]) -> int:
        t = self.table
        with self.engine.begin() as conn:
            return conn.execute(self.sa.delete(t).where(t.c.id.in_(session_ids))).rowcount

    def count(self, model: str | None = None) -> int:
        t = self.table
        query = self.sa.select(self.sa.func.count()).select_from(t)
        if model is not None:
            query = query.where(t.c.model == model)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def idle(self, seconds: float) -> list[str]:
        t = self.table
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(self.sa.select(t.c.id).where(t.c.last_used < time.time() - seconds))]


def open_store(spec: str | Path, durability: str = "normal") -> SessionStore | SqlSessionStore:
    """A SQLite file path, or a database URL (``postgresql://user@host/db``; ``sqlite:///f``)."""
    spec = str(spec)
    return SqlSessionStore(spec) if "://" in spec else SessionStore(spec, durability)


__all__ = ["SessionStore", "SqlSessionStore", "open_store", "SessionRecord", "pack_state", "unpack_state"]
