"""The CLI stands on the public API only: ``rnnkit``, ``rnnkit.tasks`` (with its ``io``,
``inspect`` and ``runs`` faces), ``rnnkit.serving`` (the server, a sibling face),
``rnnkit.errors`` and its own ``cli`` package. Logic below
that belongs in the library, where the Python API reaches it too."""

import ast
from pathlib import Path

import rnnkit.cli

ALLOWED = ("rnnkit", "rnnkit._version", "rnnkit.errors", "rnnkit.tasks", "rnnkit.serving", "rnnkit.cli")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n == "rnnkit" or n.startswith("rnnkit.")}


def test_cli_imports_only_the_public_api():
    cli_dir = Path(rnnkit.cli.__file__).parent
    bad = {}
    for path in sorted(cli_dir.glob("*.py")):
        below = sorted(m for m in imported_modules(path)
                       if not any(m == a or m.startswith(a + ".") for a in ALLOWED if a != "rnnkit")
                       and m != "rnnkit")
        if below:
            bad[path.name] = below
    assert not bad, f"CLI modules import below the public API: {bad}"


def test_top_level_help_and_version_do_not_load_torch():
    """``rnnkit --help`` lists every command from static one-line helps; the groups (and torch)
    load only when a command of theirs runs."""
    import subprocess
    import sys

    code = ("import sys; from rnnkit.cli.main import main; sys.argv = ['rnnkit', '{}']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch was imported'")
    for flag in ("--help", "--version"):
        run = subprocess.run([sys.executable, "-c", code.format(flag)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        if flag == "--help":
            assert "forecast" in run.stdout and "translate" in run.stdout


def test_info_reads_the_header_only(tmp_path):
    """``rnnkit info`` reads a checkpoint's header: no weights, no torch."""
    import subprocess
    import sys

    import torch

    from rnnkit.training.checkpoint import Checkpoint, save_checkpoint

    checkpoint = Checkpoint(meta={"task": "lm", "unigram_counts": list(range(500))},
                            tensors={"model/w": torch.zeros(3, 4)})
    path = save_checkpoint(tmp_path / "c.safetensors", checkpoint)
    code = ("import sys; from rnnkit.cli.main import main; sys.argv = ['rnnkit', 'info', sys.argv[1]]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules, 'torch was imported'")
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    text = " ".join(run.stdout.split())  # a long temporary path wraps the line at 80 columns
    assert "(12 model parameters)" in text and "500 items" in text


def test_lazy_group_helps_match_the_groups():
    import importlib

    from rnnkit.cli.main import LAZY_GROUPS

    for name, (module, summary) in LAZY_GROUPS.items():
        own = importlib.import_module(module).app.info.help
        assert own.startswith(summary.rstrip(".")), (name, own)
