"""Package-level checks: light core imports, the console script, the benchmark script."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_core_import_does_not_load_optional_extras():
    code = ("import sys, rnnkit, rnnkit.tasks.lm, rnnkit.cli.main; "
            "bad = [m for m in ('matplotlib', 'pandas', 'sacrebleu') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "--version"], capture_output=True, text=True,
                         check=True)
    assert out.stdout.startswith("rnnkit ")


def test_layer_benchmark_quick_mode_runs():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_layers

    row = bench_layers.bench_config("gru", (4, 5, 3, 8, 2), __import__("torch").device("cpu"), rounds=2, warmup=1)
    assert row["ms"]["torch"] > 0 and row["speed_vs_torch"]["fused"] > 0


def test_the_cli_reference_has_a_section_for_every_command():
    """docs/cli.md is generated from --help (make docs); a command added without regenerating it
    is missing there."""
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("cli_docs", root / "scripts" / "cli_docs.py")
    cli_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli_docs)
    page = (root / "docs" / "cli.md").read_text(encoding="utf-8")
    titles = [cli_docs.title(command) for command in cli_docs.commands()]
    assert len(titles) > 40 and "## `rnnkit recognize train`" in "\n".join(f"## `{t}`" for t in titles)
    missing = [t for t in titles if f"## `{t}`\n" not in page]
    assert not missing, f"docs/cli.md lacks {missing}: run make docs"
