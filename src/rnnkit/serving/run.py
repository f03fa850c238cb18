"""Start the server: load checkpoints, open the session store, run uvicorn."""

from __future__ import annotations

import os
from pathlib import Path

from rnnkit.errors import ConfigError, RnnkitError
from rnnkit.serving.served import ServedModel
from rnnkit.serving.server import Server, ServeSettings
from rnnkit.serving.store import open_store

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def load_models(specs: list[str], device: str = "cpu") -> dict[str, ServedModel]:
    """``NAME=CHECKPOINT`` or ``CHECKPOINT`` (named after the file) -> served models."""
    from rnnkit.tasks import load

    models: dict[str, ServedModel] = {}
    for spec in specs:
        name, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        name = name or Path(path).stem
        if name in models:
            raise ConfigError(f"two models are named {name!r}; name them: NAME=CHECKPOINT")
        try:
            models[name] = ServedModel(name, load(path, device=device), path)
        except RnnkitError as exc:
            raise type(exc)(f"{path}: {exc}" if str(path) not in str(exc) else str(exc)) from None
    if not models:
        raise ConfigError("give at least one checkpoint to serve")
    return models


def build(specs: list[str], state_db: str | Path, settings: ServeSettings, device: str = "cpu",
          durability: str = "normal"):
    """The FastAPI application over the given checkpoints and session database (a SQLite
    path, or a URL such as ``postgresql://user@host/db`` for several server processes)."""
    from rnnkit.serving.app import create_app

    server = Server(load_models(specs, device), open_store(state_db, durability), settings)
    return create_app(server)


def serve(specs: list[str], host: str = "127.0.0.1", port: int = 8000, state_db: str | Path = "sessions.sqlite",
          settings: ServeSettings | None = None, device: str = "cpu", durability: str = "normal",
          log_level: str = "warning") -> None:
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("rnnkit serve needs its extra: pip install 'rnnkit[serve]'") from None
    settings = settings or ServeSettings()
    if settings.token is None:
        settings.token = os.environ.get("RNNKIT_SERVE_TOKEN") or None
    if host not in LOOPBACK and not settings.token:
        raise ConfigError(f"binding to {host} (not loopback) needs a bearer token: --token or $RNNKIT_SERVE_TOKEN")
    app = build(specs, state_db, settings, device, durability)
    # uvicorn stops on SIGINT/SIGTERM gracefully: in-flight requests finish, the lifespan
    # shutdown drains the batcher and closes the store
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=10)


__all__ = ["serve", "build", "load_models", "LOOPBACK"]
