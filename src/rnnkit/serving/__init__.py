"""``rnnkit serve``: trained models behind HTTP, with per-session recurrent state that
survives restarts (SQLite), dynamic batching of steps, limits, auth and metrics.

Layers: ``store`` (durable sessions) and ``served`` (a model's sessions: open, step,
generate, predict) need only rnnkit; ``batcher`` groups steps; ``app`` is the FastAPI
application (the ``serve`` extra: fastapi, uvicorn, prometheus-client).
"""
