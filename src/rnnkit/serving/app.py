"""The HTTP face of :class:`~rnnkit.serving.server.Server`: a FastAPI application.

=========================================  ==================================================
``GET /health``, ``GET /ready``            liveness; readiness (models loaded, store open)
``GET /models``, ``GET /models/{name}``    served models with their input and output schema
``POST /models/{name}/predict``            stateless prediction on a batch
``POST /sessions``                         open a session: ``{"model": ..., ...}``
``GET /sessions/{id}``                     a session's model, steps and times
``POST /sessions/{id}/step``               feed one step or a chunk; the outputs (with ``"after": n``
                                           exactly once: a retry of step n gets the same answer)
``POST /steps``                            steps of many sessions in one request (a gateway)
``POST /sessions/{id}/generate``           sample text; server-sent events (``"stream": false``: JSON)
``POST /sessions/{id}/reset``              back to the state the session opened with
``DELETE /sessions/{id}``                  forget it
``GET /metrics``                           Prometheus text format
=========================================  ==================================================

Errors are JSON ``{"error": message, "field": name}`` with a 4xx status: 400 for unusable
input (the field is named), 401 without the bearer token, 404 for an unknown model or
session, 409 for a step whose ``after`` is not the session's step count, 413 for a body over
the limit, 429 when the session limit is reached.
"""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from rnnkit._version import __version__
from rnnkit.serving.served import InputError
from rnnkit.serving.server import Server, SessionNotFound, StepConflict, TooManySessions

_OPEN = ("/health", "/ready")


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


class _Guard:
    """Bearer token, body size limit and request metrics, as plain ASGI middleware (a
    decorator middleware costs more than a recurrent step per request)."""

    def __init__(self, app, token: str | None, max_bytes: int, requests: Counter, latency: Histogram) -> None:
        self.app, self.token, self.max_bytes = app, token, max_bytes
        self.requests, self.latency = requests, latency
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self.expected is not None and scope["path"] not in _OPEN and headers.get(b"authorization") != self.expected:
            self.requests.labels(route="auth", status=401).inc()
            await _error(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)",
                         "authorization")(scope, receive, send)
            return
        size = headers.get(b"content-length", b"")
        if size.isdigit() and int(size) > self.max_bytes:
            self.requests.labels(route="too_large", status=413).inc()
            await _error(413, f"request body over {self.max_bytes} bytes", "body")(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def record(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(route=route, status=status[0]).inc()
            self.latency.labels(route=route).observe(time.perf_counter() - start)


def create_app(server: Server) -> FastAPI:
    registry = CollectorRegistry()
    requests = Counter("rnnkit_requests", "HTTP requests", ["route", "status"], registry=registry)
    latency = Histogram("rnnkit_request_seconds", "Request latency", ["route"], registry=registry,
                        buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
    sessions = Gauge("rnnkit_sessions", "Open sessions", registry=registry)
    sessions.set_function(lambda: server.store.count())
    batch_sizes = Histogram("rnnkit_batch_size", "Sessions stepped together", registry=registry,
                            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
    steps = Gauge("rnnkit_steps", "Steps run since start", registry=registry)
    steps.set_function(lambda: server.steps_done)
    server.batcher.on_batch = batch_sizes.observe
    settings = server.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await server.start()
        try:
            yield
        finally:
            await server.close()  # in-flight steps finish and are committed
            server.store.close()

    app = FastAPI(title="rnnkit serve", version=__version__, lifespan=lifespan,
                  description="Recurrent models with per-session state that survives restarts.")
    app.add_middleware(_Guard, token=settings.token, max_bytes=settings.max_request_bytes,
                       requests=requests, latency=latency)

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError):
        return _error(400, str(exc), exc.field)

    @app.exception_handler(SessionNotFound)
    async def no_session(request: Request, exc: SessionNotFound):
        return _error(404, f"no session {exc.args[0]!r} (never opened, deleted or expired)", "session")

    @app.exception_handler(TooManySessions)
    async def too_many(request: Request, exc: TooManySessions):
        return _error(429, str(exc), "model")

    @app.exception_handler(StepConflict)
    async def conflict(request: Request, exc: StepConflict):
        return _error(409, str(exc), "after")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(x) for x in first.get("loc", ()) if x != "body"]
        if first.get("type") == "json_invalid":  # the location is a character position
            loc = []
        return _error(400, f"invalid request: {first.get('msg', 'unreadable body')}", ".".join(loc) or "body")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready")
    async def ready() -> dict[str, Any]:
        return {"ready": True, "models": list(server.models), "sessions": server.store.count()}

    @app.get("/models")
    async def models() -> list[dict[str, Any]]:
        return [m.describe() for m in server.models.values()]

    @app.get("/models/{name}")
    async def model(name: str) -> dict[str, Any]:
        return server.model(name).describe()

    @app.post("/models/{name}/predict")
    async def predict(name: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        import asyncio

        served = server.model(name)
        return await asyncio.to_thread(served.predict, body)

    @app.post("/sessions", status_code=201)
    async def create(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        name = body.get("model")
        if not isinstance(name, str):
            raise InputError("model", "give the model's name")
        record = await server.create(name, {k: v for k, v in body.items() if k != "model"})
        record = server.session(record.id)
        return {"id": record.id, "model": record.model, "steps": record.steps}

    @app.get("/sessions/{session_id}")
    async def read(session_id: str) -> dict[str, Any]:
        r = server.session(session_id)
        return {"id": r.id, "model": r.model, "steps": r.steps, "created": r.created, "last_used": r.last_used,
                "params": r.info.get("params", {}), "seed": r.info.get("seed")}

    @app.post("/sessions/{session_id}/step")
    async def step(session_id: str, body: dict[str, Any] = Body(...)) -> JSONResponse:
        out = await server.step(session_id, body)
        return JSONResponse({"id": session_id, "steps": server.session(session_id).steps, **out})

    @app.post("/steps")
    async def many_steps(body: dict[str, Any] = Body(...)) -> JSONResponse:
        """Steps of many sessions in one request (a gateway forwarding its devices): each item
        is a step body plus ``"id"``; answers in order, an item's error in its place."""
        import asyncio

        items = body.get("steps")
        if not isinstance(items, list) or not items or not all(isinstance(x, dict) and "id" in x for x in items):
            raise InputError("steps", "steps must be a non-empty list of step bodies, each with the session's id")
        if len(items) > settings.max_batch * 16:
            raise InputError("steps", f"at most {settings.max_batch * 16} steps per request")

        async def one(item: dict[str, Any]) -> dict[str, Any]:
            sid = str(item["id"])
            try:
                out = await server.step(sid, {k: v for k, v in item.items() if k != "id"})
                return {"id": sid, "steps": server.session(sid).steps, **out}
            except InputError as exc:
                return {"id": sid, "error": str(exc), "field": exc.field, "status": 400}
            except SessionNotFound:
                return {"id": sid, "error": f"no session {sid!r}", "field": "session", "status": 404}
            except StepConflict as exc:
                return {"id": sid, "error": str(exc), "field": "after", "status": 409}

        return JSONResponse({"results": await asyncio.gather(*(one(x) for x in items))})

    @app.post("/sessions/{session_id}/generate")
    async def generate(session_id: str, body: dict[str, Any] = Body(default_factory=dict)):
        length = body.get("length", 100)
        args = (length, body.get("temperature", 1.0), body.get("top_k"), body.get("top_p"))
        tokens = server.generate(session_id, *args)
        first = await anext(tokens, None)  # input errors surface here, before the response starts
        if not body.get("stream", True):
            got = [] if first is None else [first] + [t async for t in tokens]
            served = server.models[server.session(session_id).model]
            sep = " " if served.kind != "lm" or served.estimator.vocab_.level == "word" else ""
            return {"id": session_id, "tokens": [t["token"] for t in got if not t["end"]],
                    "text": sep.join(t["token"] for t in got if not t["end"])}

        async def events():
            if first is not None:
                yield f"data: {json.dumps(first)}\n\n"
                async for t in tokens:
                    yield f"data: {json.dumps(t)}\n\n"
            yield "event: end\ndata: {}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/sessions/{session_id}/reset")
    async def reset(session_id: str) -> dict[str, Any]:
        r = server.reset(session_id)
        return {"id": r.id, "model": r.model, "steps": r.steps}

    @app.delete("/sessions/{session_id}")
    async def delete(session_id: str) -> dict[str, Any]:
        server.delete(session_id)
        return {"deleted": session_id}

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(registry).decode(), media_type=CONTENT_TYPE_LATEST)

    return app


__all__ = ["create_app"]
