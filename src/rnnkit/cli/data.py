"""``rnnkit data``: the public datasets rnnkit knows by name (``data:NAME`` wherever a path goes)."""

from __future__ import annotations

import typer

from rnnkit.cli.common import console, user_errors

app = typer.Typer(help="Public datasets by name: list, get (SHA-256 checked, cached), path.", no_args_is_help=True)


@app.command("list")
@user_errors
def list_(ucr: bool = typer.Option(False, "--ucr", help="Also list the UCR series datasets one by one.")) -> None:
    """The datasets, their files and licences (use them as data:NAME, e.g. rnnkit lm train data:ptb)."""
    from rich.table import Table

    from rnnkit.tasks.io import data_dir, dataset_registry

    table = Table(title=f"datasets (cached in {data_dir()})", title_justify="left")
    table.add_column("name", no_wrap=True)
    for col in ("files", "description", "licence"):
        table.add_column(col, overflow="fold")
    known = dataset_registry()
    for name, ds in known.items():
        if name.startswith("ucr/") and not ucr:
            continue
        table.add_row(name, _files(ds), ds.description, ds.licence)
    console.print(table)
    if not ucr:
        n = sum(name.startswith("ucr/") for name in known)
        console.print(f"and {n} UCR series datasets as ucr/NAME (e.g. data:ucr/Coffee; --ucr lists them)")


def _files(ds) -> str:
    """A dataset's files in a few words: a folder of many as ``folder/ (N files)``, then the
    tables written from them."""
    shown: dict[str, int] = {}
    for f in ds.files:
        folder, sep, _ = f.name.partition("/")
        key = folder + "/" if sep else f.name
        shown[key] = shown.get(key, 0) + 1
    parts = [f"{k} ({n:,} files)" if k.endswith("/") else k for k, n in shown.items()]
    if ds.derived:
        parts.append(f"{', '.join(ds.derived)} (written from them)")
    return ", ".join(parts)


@app.command()
@user_errors
def get(names: list[str] = typer.Argument(..., help="Dataset names (rnnkit data list).")) -> None:
    """Download (or copy from $RNNKIT_DATA_MIRROR) and check datasets into the cache; resumes a
    partial download."""
    from rnnkit.tasks.io import fetch_dataset

    for name in names:
        console.print(f"{name}: {fetch_dataset(name)}", highlight=False)


@app.command()
@user_errors
def path(spec: str = typer.Argument(..., help="NAME, NAME:ROLE (train, valid, test) or NAME/FILE.")) -> None:
    """The local path of a dataset's file (fetched if need be), for scripts."""
    from rnnkit.tasks.io import resolve_data

    typer.echo(str(resolve_data(spec if spec.startswith("data:") else "data:" + spec)))
