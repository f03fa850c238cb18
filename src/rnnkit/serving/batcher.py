"""``DynamicBatcher``: steps of different sessions that arrive together run as one batch.

Requests queue up; a single worker takes the first, waits at most ``max_wait`` seconds for
more (up to ``max_batch``), groups them by model, and runs each group as one batched step
in a worker thread (NumPy releases the GIL in its products; the event loop keeps accepting
requests meanwhile). Two steps of one session never share a batch: the second waits for
the next one, so a session's steps apply in arrival order. The batch's new states are
committed to the session store before any of its requests is answered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    model: str
    session: str
    payload: Any
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class DynamicBatcher:
    """``run(model, jobs) -> results`` (one per job, or an exception per job) does the work."""

    def __init__(self, run: Callable[[str, list[Job]], list[Any]], max_wait: float = 0.002, max_batch: int = 256,
                 on_batch: Callable[[int], None] | None = None) -> None:
        self.run = run
        self.max_wait = max_wait
        self.max_batch = max(1, max_batch)
        self.on_batch = on_batch
        self._queue: asyncio.Queue[Job | None] = asyncio.Queue()
        self._worker: asyncio.Task | None = None
        self._held: list[Job] = []  # jobs of sessions already in the running batch

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._loop())

    async def submit(self, model: str, session: str, payload: Any) -> Any:
        job = Job(model, session, payload)
        await self._queue.put(job)
        return await job.future

    async def close(self) -> None:
        """Finish every queued step, then stop."""
        if self._worker is not None:
            await self._queue.put(None)
            await self._worker
            self._worker = None

    async def _loop(self) -> None:
        stopping = False
        while not stopping or self._held:
            batch: list[Job] = self._held
            self._held = []
            if not batch:
                job = await self._queue.get()
                if job is None:
                    break
                batch = [job]
            deadline = time.perf_counter() + self.max_wait
            while len(batch) < self.max_batch and not stopping:
                timeout = deadline - time.perf_counter()
                try:
                    if timeout <= 0:
                        job = self._queue.get_nowait()
                    else:
                        job = await asyncio.wait_for(self._queue.get(), timeout)
                except (asyncio.TimeoutError, asyncio.QueueEmpty):
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            await self._run_batch(batch)
        # drain what is left after the stop signal
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if job is not None:
                await self._run_batch([job])

    async def _run_batch(self, batch: list[Job]) -> None:
        seen: set[str] = set()
        groups: dict[str, list[Job]] = {}
        for job in batch:
            if job.session in seen:
                self._held.append(job)  # the same session twice: the later step waits
                continue
            seen.add(job.session)
            groups.setdefault(job.model, []).append(job)
        for model, jobs in groups.items():
            if self.on_batch is not None:
                self.on_batch(len(jobs))
            try:
                results = await asyncio.to_thread(self.run, model, jobs)
            except Exception as exc:  # the whole group failed: every request hears why
                results = [exc] * len(jobs)
            for job, result in zip(jobs, results):
                if job.future.done():
                    continue
                if isinstance(result, BaseException):
                    job.future.set_exception(result)
                else:
                    job.future.set_result(result)


__all__ = ["DynamicBatcher", "Job"]
