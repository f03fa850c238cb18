"""``Server``: sessions of served models, stepped through the dynamic batcher and kept in
the session store -- everything ``rnnkit serve`` does except HTTP (see ``app.py``).

A step's answer leaves only after the session's new state is committed to the store, so
a restarted server (same ``--state-db``) continues every session exactly where its last
acknowledged step left it: the same state, the same sampling RNG, the same outputs.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.serving.batcher import DynamicBatcher, Job
from rnnkit.serving.served import InputError, ServedModel, check_generation
from rnnkit.serving.store import SessionRecord, SessionStore, SqlSessionStore


@dataclass
class ServeSettings:
    """Limits and batching. ``max_wait_ms``: how long the batcher waits for more steps;
    ``batching=False`` runs every step alone (for comparison)."""

    max_sessions: int = 10_000
    idle_timeout: float = 3600.0  # seconds without a request before a session is deleted
    max_request_bytes: int = 1_000_000
    max_steps: int = 4096  # steps (or forecaster rows) per request
    max_generate: int = 2000  # tokens per generate request
    max_wait_ms: float = 0.0
    max_batch: int = 256
    batching: bool = True
    top: int = 10  # tokens listed in a next-token distribution
    token: str | None = None  # bearer token; None: no authentication

    def __post_init__(self) -> None:
        for name in ("max_sessions", "max_request_bytes", "max_steps", "max_generate", "max_batch", "top"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.idle_timeout <= 0 or self.max_wait_ms < 0:
            raise ConfigError("idle-timeout must be positive and max-wait-ms at least 0")


class SessionNotFound(LookupError):
    pass


class TooManySessions(RuntimeError):
    pass


class StepConflict(RuntimeError):
    """A step sent with ``after`` (the session's step count it expects) that does not match."""


@dataclass
class _Step:
    inputs: Any = None  # parsed stream inputs
    sample: tuple | None = None  # (temperature, top_k, top_p) to draw the input from the last output
    after: int | None = None  # apply only if the session has taken exactly this many steps


class Server:
    def __init__(self, models: dict[str, ServedModel], store: SessionStore | SqlSessionStore,
                 settings: ServeSettings | None = None,
                 on_batch=None) -> None:
        self.models = models
        self.store = store
        self.settings = settings or ServeSettings()
        # sessions in memory; a store shared by several processes is read at every step instead
        self._cache: dict[str, SessionRecord] = {}
        self._caching = not store.shared
        s = self.settings
        self.batcher = DynamicBatcher(self._run, s.max_wait_ms / 1000 if s.batching else 0.0,
                                      s.max_batch if s.batching else 1, on_batch)
        self._expiry: asyncio.Task | None = None
        self.steps_done = 0

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        self.batcher.start()
        self._expiry = asyncio.get_running_loop().create_task(self._expire_loop())

    async def close(self) -> None:
        """Finish in-flight steps (their states are committed), then stop."""
        if self._expiry is not None:
            self._expiry.cancel()
        await self.batcher.close()

    async def _expire_loop(self) -> None:
        period = min(max(self.settings.idle_timeout / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(period)
            self.expire()

    def expire(self) -> int:
        ids = self.store.idle(self.settings.idle_timeout)
        for i in ids:
            self._cache.pop(i, None)
        return self.store.delete(ids) if ids else 0

    # ------------------------------------------------------------------ sessions
    def model(self, name: str) -> ServedModel:
        if name not in self.models:
            raise InputError("model", f"unknown model {name!r}; served: {', '.join(self.models)}")
        return self.models[name]

    def session(self, session_id: str) -> SessionRecord:
        record = self._cache.get(session_id)
        if record is None:
            record = self.store.get(session_id)
            if record is None or record.model not in self.models:
                raise SessionNotFound(session_id)
            if self._caching:
                self._cache[session_id] = record
        return record

    async def create(self, model: str, params: dict[str, Any]) -> SessionRecord:
        served = self.model(model)
        if self.store.count() >= self.settings.max_sessions:
            raise TooManySessions(f"the server holds its maximum of {self.settings.max_sessions} sessions")
        record = served.open(secrets.token_urlsafe(12), params, time.time())
        self.store.put([record])
        if self._caching:
            self._cache[record.id] = record
        prompt = params.get("prompt")
        if prompt is not None:
            if served.kind != "lm":
                raise InputError("prompt", "only language-model sessions take a prompt")
            await self.step(record.id, {"text": prompt})
        return record

    def delete(self, session_id: str) -> None:
        self.session(session_id)
        self._cache.pop(session_id, None)
        self.store.delete([session_id])

    def reset(self, session_id: str) -> SessionRecord:
        old = self.session(session_id)
        params = {**old.info.get("params", {}), "seed": old.info.get("seed")}
        fresh = self.models[old.model].open(session_id, params, time.time())
        fresh.created = old.created
        self.store.put([fresh])
        if self._caching:
            self._cache[session_id] = fresh
        return fresh

    # ------------------------------------------------------------------ steps
    async def step(self, session_id: str, body: dict[str, Any]) -> dict[str, Any]:
        record = self.session(session_id)
        served = self.models[record.model]
        inputs = served.parse(body, self.settings.max_steps)
        after = body.get("after")
        if after is not None and (not isinstance(after, int) or isinstance(after, bool) or after < 0):
            raise InputError("after", "after must be the session's step count (an integer >= 0)")
        return await self.batcher.submit(record.model, session_id, _Step(inputs=inputs, after=after))

    async def generate(self, session_id: str, length: int, temperature: float = 1.0, top_k: int | None = None,
                       top_p: float | None = None) -> AsyncIterator[dict[str, Any]]:
        """Tokens one by one, each drawn and fed back through the batcher (and committed)."""
        record = self.session(session_id)
        served = self.models[record.model]
        if not served.can_generate():
            raise InputError("session", f"{served.kind} sessions do not generate text")
        check_generation(temperature, top_k, top_p, length, self.settings.max_generate)
        if record.info.get("last") is None:
            raise InputError("session", "feed at least one step (or open the session with a prompt) first")
        for _ in range(length):
            out = await self.batcher.submit(record.model, session_id, _Step(sample=(float(temperature), top_k, top_p)))
            yield out["generated"]
            if out["generated"]["end"]:
                return

    def _run(self, model: str, jobs: list[Job]) -> list[Any]:
        """Worker thread: one batched step of ``jobs`` (distinct sessions of ``model``)."""
        served = self.models[model]
        records, inputs, drawn, afters = [], [], [], []
        expected: dict[str, int] = {}
        results: list[Any] = [None] * len(jobs)
        for i, job in enumerate(jobs):
            rec = self._cache.get(job.session) or self.store.get(job.session)
            if rec is None:
                results[i] = SessionNotFound(job.session)
                continue
            expected[rec.id] = rec.steps
            # a private record to step: a failed step leaves the cached one untouched (steps
            # replace the state arrays and the info entries, never change them in place)
            rec = copy.copy(rec)
            rec.info = dict(rec.info)
            step: _Step = job.payload
            if step.after is not None and rec.steps != step.after:
                reply = rec.info.get("reply") or {}
                if reply.get("after") == step.after:  # a retry of a step already taken: the same answer
                    results[i] = reply["output"]
                else:
                    results[i] = StepConflict(f"session {rec.id!r} has taken {rec.steps} steps; this step was "
                                              f"sent for step {step.after}")
                continue
            try:
                if step.sample is not None:
                    token, text, end = served.sample(rec, *step.sample)
                    drawn.append((i, {"token": text, "id": token, "end": end}))
                    x = np.array([token], np.int64)
                else:
                    x = step.inputs
            except InputError as exc:
                results[i] = exc
                continue
            records.append((i, rec))
            inputs.append(x)
            afters.append(step.after)
        if records:
            outs = self._step_isolated(served, [r for _, r in records], inputs, results, [i for i, _ in records])
            now = time.time()
            done = [(i, r) for (i, r), o in zip(records, outs) if o is not None]
            for (_, r), o, after in zip(records, outs, afters):
                r.last_used = now
                if after is not None and o is not None:  # kept so that a retry gets the same answer
                    r.info["reply"] = {"after": after, "output": o}
            # durable before anyone hears the answer; a shared store refuses a session that
            # another process stepped meanwhile
            lost = self.store.put([r for _, r in done], expected)
            for (i, r), o in zip(records, outs):
                if o is None:
                    continue
                if r.id in lost:
                    results[i] = StepConflict(f"session {r.id!r} was stepped by another server process meanwhile; "
                                              "send the step again")
                    continue
                if self._caching:
                    self._cache[r.id] = r
                results[i] = o
            self.steps_done += sum(len(x) for x in inputs)
        for i, generated in drawn:
            if isinstance(results[i], dict):
                results[i] = {**results[i], "generated": generated}
        return results

    def _step_isolated(self, served: ServedModel, records: list[SessionRecord], inputs: list[Any],
                       results: list[Any], where: list[int]) -> list[Any]:
        """Step all together; if that fails, each alone, so one bad request fails alone."""
        try:
            return list(served.step(records, inputs, self.settings.top))
        except Exception:
            if len(records) == 1:
                raise
        outs: list[Any] = []
        for rec, x, i in zip(records, inputs, where):
            try:
                outs.append(served.step([rec], [x], self.settings.top)[0])
            except Exception as exc:
                results[i] = exc
                outs.append(None)
        return outs


__all__ = ["Server", "ServeSettings", "SessionNotFound", "TooManySessions", "StepConflict"]
