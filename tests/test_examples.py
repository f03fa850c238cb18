"""Every script in examples/ runs to the end, as a new user runs it.

Each runs in a fresh folder (so nothing under ../shared/data is found and the scripts take their
synthetic fallbacks, or the small files given here) in a subprocess, and must exit 0. An
example that breaks when a default changes is found here, not by a user.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _conllu(path: Path, sentences: int) -> Path:
    rows = [("The", "DET"), ("cat", "NOUN"), ("sat", "VERB"), ("on", "ADP"), ("a", "DET"), ("mat", "NOUN"),
            (".", "PUNCT")]
    blocks = []
    for s in range(sentences):
        words = rows if s % 2 else rows[:3] + rows[-1:]
        blocks.append("\n".join(f"{i}\t{w}\t_\t{t}\t_\t_\t_\t_\t_\t_" for i, (w, t) in enumerate(words, 1)))
    path.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    return path


def _arguments(name: str, folder: Path) -> list[str]:
    if name == "tag_words":
        return [str(_conllu(folder / "train.conllu", 40)), str(_conllu(folder / "test.conllu", 6))]
    if name == "char_lm":
        text = folder / "input.txt"
        text.write_text("to be or not to be, that is the question.\n" * 200, encoding="utf-8")
        return [str(text)]
    return []


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.py")))
def test_example_runs(name, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *_arguments(name, tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"examples/{name}.py failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"examples/{name}.py printed nothing"
