"""``rnnkit serve``: trained models behind HTTP, with sessions that survive restarts."""

from __future__ import annotations

import typer

from rnnkit.cli.common import user_errors


@user_errors
def serve(
    checkpoints: list[str] = typer.Argument(..., help="Checkpoints to serve, each CHECKPOINT or NAME=CHECKPOINT "
                                                      "(default name: the file's stem)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind; anything but loopback needs --token."),
    port: int = typer.Option(8000, help="Port to listen on."),
    state_db: str = typer.Option("sessions.sqlite", "--state-db",
                                 help="SQLite file of the sessions' states (kept across restarts), or a database "
                                      "URL (postgresql://user@host/db) shared by several server processes."),
    token: str = typer.Option(None, help="Bearer token every request must carry (default $RNNKIT_SERVE_TOKEN)."),
    max_sessions: int = typer.Option(10_000, help="Most sessions held at once."),
    idle_timeout: float = typer.Option(3600.0, help="Seconds without a request before a session is deleted."),
    max_request_bytes: int = typer.Option(1_000_000, help="Largest request body accepted."),
    max_steps: int = typer.Option(4096, help="Most steps (or forecaster rows) per request."),
    max_wait_ms: float = typer.Option(0.0, help="How long a step waits for others to batch with (0: a batch is "
                                                "what queued up while the previous one ran)."),
    max_batch: int = typer.Option(256, help="Most sessions stepped together."),
    no_batching: bool = typer.Option(False, "--no-batching", help="Step every request alone."),
    durability: str = typer.Option("normal", help="normal: survives a killed server; full: also a power cut "
                                                  "(an fsync per commit)."),
    device: str = typer.Option("cpu", help="Device for the models (streams run on the CPU engine)."),
    log_level: str = typer.Option("warning", help="uvicorn's log level."),
) -> None:
    """Serve models over HTTP (OpenAPI docs at /docs): stateless prediction, sessions fed one
    step or a chunk at a time (running class probabilities, tags, next-token distributions,
    forecasts), text generation as server-sent events, metrics at /metrics. Every session's
    state is committed to --state-db before its step is answered. Needs: pip install 'rnnkit\\[serve]'."""
    from rnnkit.serving.run import serve as run_server
    from rnnkit.serving.server import ServeSettings

    settings = ServeSettings(max_sessions=max_sessions, idle_timeout=idle_timeout,
                             max_request_bytes=max_request_bytes, max_steps=max_steps, max_wait_ms=max_wait_ms,
                             max_batch=max_batch, batching=not no_batching, token=token)
    typer.echo(f"rnnkit serve: http://{host}:{port} (docs at /docs), sessions in {state_db}", err=True)
    run_server(checkpoints, host, port, state_db, settings, device, durability, log_level)
