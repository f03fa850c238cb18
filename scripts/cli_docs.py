"""Write docs/cli.md from the CLI's own --help texts (run: make docs)."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from rnnkit.cli.main import app

COMMANDS = [[], ["info"], ["demo"], ["lm"], ["lm", "train"], ["lm", "generate"], ["lm", "evaluate"],
            ["classify"], ["classify", "train"], ["classify", "predict"], ["tag"], ["tag", "train"], ["tag", "predict"],
            ["forecast"], ["forecast", "train"], ["forecast", "predict"], ["forecast", "evaluate"],
            ["music"], ["music", "train"], ["music", "evaluate"], ["music", "generate"],
            ["translate"], ["translate", "train"], ["translate", "text"], ["translate", "evaluate"],
            ["generate"], ["generate", "train"], ["generate", "sample"],
            ["inspect"], ["inspect", "gradients"], ["inspect", "long-range"], ["inspect", "activations"], ["report"],
            ["tune"], ["export"], ["serve"], ["data"]]


def main() -> None:
    os.environ["TERM"] = "dumb"
    runner = CliRunner()
    parts = ["# rnnkit command line\n\nGenerated from `--help` by `scripts/cli_docs.py` (`make docs`).\n"]
    for cmd in COMMANDS:
        result = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
        title = "rnnkit translate CHECKPOINT [SENTENCES]" if cmd == ["translate", "text"] else f"rnnkit {' '.join(cmd)}"
        parts.append(f"## `{title}`\n\n```text\n{result.output.rstrip()}\n```\n")
    out = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
    out.write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
