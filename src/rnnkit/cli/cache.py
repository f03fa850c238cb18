"""``rnnkit cache``: where encoded corpora are cached, how large the cache is, and emptying it."""

from __future__ import annotations

import typer

from rnnkit.cli.common import console, user_errors

app = typer.Typer(help="The cache of encoded corpora (token ids): info and clear.", no_args_is_help=True)


@app.command()
@user_errors
def info() -> None:
    """Where the cache is, what it holds and its size limit ($RNNKIT_CACHE, $RNNKIT_CACHE_LIMIT)."""
    from rnnkit.tasks.io import cache_dir, cache_entries, cache_limit

    entries = cache_entries()
    size = sum(p.stat().st_size for p in entries)
    console.print(f"{cache_dir()}: {len(entries)} encoded corpora, {size / 1024**2:,.1f} MB "
                  f"(limit {cache_limit() / 1024**2:,.0f} MB)", highlight=False)


@app.command()
@user_errors
def clear() -> None:
    """Delete every cached encoded corpus (they are rebuilt when needed)."""
    from rnnkit.tasks.io import cache_dir, clear_cache

    files, size = clear_cache()
    console.print(f"removed {files} files, {size / 1024**2:,.1f} MB from {cache_dir()}", highlight=False)
