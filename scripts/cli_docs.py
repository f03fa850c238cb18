"""Write docs/cli.md from the CLI's own --help texts (run: make docs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from rnnkit.cli.main import app


def commands() -> list[list[str]]:
    """Every command and group of the CLI, in the order ``--help`` lists them (lazily loaded
    groups included), so a new command cannot be left out of the page."""
    import typer.main

    def walk(command: Any, path: list[str], ctx: Any):
        command = command.real() if hasattr(command, "real") else command  # a lazily loaded group
        yield path
        if hasattr(command, "list_commands"):  # a group (typer's own click: duck-typed)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                # hidden: only "translate text", the command that `translate CHECKPOINT ...` runs
                if sub is not None and (not sub.hidden or path == ["translate"]):
                    yield from walk(sub, [*path, name], type(ctx)(sub, info_name=name, parent=ctx))

    root = typer.main.get_command(app)
    return list(walk(root, [], root.context_class(root, info_name="rnnkit")))


def title(command: list[str]) -> str:
    """A command's section title (``translate text`` is what ``translate CHECKPOINT ...`` runs)."""
    return "rnnkit translate CHECKPOINT [SENTENCES]" if command == ["translate", "text"] else \
        " ".join(["rnnkit", *command])


def main() -> None:
    os.environ["TERM"] = "dumb"
    runner = CliRunner()
    parts = ["# rnnkit command line\n\nGenerated from `--help` by `scripts/cli_docs.py` (`make docs`).\n"]
    for cmd in commands():
        result = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
        parts.append(f"## `{title(cmd)}`\n\n```text\n{result.output.rstrip()}\n```\n")
    out = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
    out.write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
