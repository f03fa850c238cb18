"""Bad input, as a user types it: every case runs the real ``rnnkit`` in a subprocess and must
end with exit code 2, exactly one line, starting ``error:``, no traceback, and nothing written
outside ``--out``. The cases are a table; a new command or option adds its rows here."""

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

# ---------------------------------------------------------------- the workspace of files


def ucr_lines(n=20, bad=None):
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        values = [f"{v:.3f}" for v in rng.normal(i % 2, 1, 12)]
        if bad is not None and i == 1:
            values[2] = bad
        lines.append("\t".join([str(i % 2 + 1), *values]))
    return "\n".join(lines) + "\n"


def table(n=120, bad=None, column="y"):
    start = datetime(2024, 1, 1)
    rows = ["date,y,x"]
    for i in range(n):
        y, x = f"{np.sin(i / 4):.4f}", f"{i % 7}"
        if bad is not None and i == 4:
            y, x = (bad, x) if column == "y" else (y, bad)
        rows.append(f"{start + timedelta(hours=i):%Y-%m-%d %H:%M:%S},{y},{x}")
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """Files the cases point at, made once; trained checkpoints for the commands that read one."""
    from typer.testing import CliRunner

    from rnnkit.cli.main import app

    root = tmp_path_factory.mktemp("bad")
    files = {
        "text.txt": "def f(x):\n    return x + 1\n" * 80,
        "empty.txt": "",
        "prose.txt": "".join(f"{w} number {i} says something about the weather.\n"
                             for i, w in enumerate(f"word{j}" for j in range(40))),
        "blank.txt": "\n\n  \n",
        "good.tsv": ucr_lines(),
        "inf.tsv": ucr_lines(bad="inf"),
        "big.tsv": ucr_lines(bad="1e39"),
        "word.tsv": ucr_lines(bad="abc"),
        "good.csv": table(),
        "inf.csv": table(bad="inf"),
        "big.csv": table(bad="-4e38", column="x"),
        "nonnum.csv": table(bad="high"),
        "short.csv": table(n=20),
        "allnan.csv": "date,y\n" + "".join(f"2024-01-01 {h:02d}:00:00,\n" for h in range(24)),
        "src.txt": "a b c\nb c d\n",
        "tgt.txt": "c b a\n",
        "bad.conllu": "1\tThe\tthe\n\n",
        "badid.conllu": "1\tThe\tthe\tDET\t_\t_\t0\troot\t_\t_\n1.x\tcat\tcat\tNOUN\t_\t_\t0\troot\t_\t_\n\n",
        "untagged.conllu": "1\tThe\tthe\t_\t_\t_\t0\troot\t_\t_\n\n",
        "bad.json": "{not json",
        "strnotes.json": json.dumps({"train": [[["C4", "E4"]]], "valid": [], "test": []}),
        "corrupt.safetensors": "not a checkpoint at all",
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "latin1.txt").write_bytes("caf\xe9 cr\xe8me\n".encode("latin-1") * 50)
    (root / "folder").mkdir()
    runner = CliRunner()
    r = runner.invoke(app, ["lm", "train", str(root / "text.txt"), "--out", str(root / "lm"), "--hidden", "8",
                            "--layers", "1", "--epochs", "1", "--quiet", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["classify", "train", "--train", str(root / "good.tsv"), "--out", str(root / "clf"),
                            "--hidden", "4", "--epochs", "1", "--quiet", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    chorale = [[60, 64, 67]] * 8
    (root / "tiny.json").write_text(json.dumps({"train": [chorale] * 2, "valid": [chorale], "test": [chorale]}))
    r = runner.invoke(app, ["music", "train", str(root / "tiny.json"), "--out", str(root / "music"), "--hidden", "4",
                            "--epochs", "1", "--quiet", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    return root


LM = "{ws}/lm/best.safetensors"
CLF = "{ws}/clf/model.safetensors"
MUSIC = "{ws}/music/model.safetensors"
OUT = ["--out", "{out}"]

# (id, arguments ({ws}: the workspace, {out}: a fresh folder), a fragment the one line must hold)
CASES = [
    # files
    ("lm-missing-file", ["lm", "train", "{ws}/nope.txt", *OUT], "nope.txt"),
    ("lm-empty-file", ["lm", "train", "{ws}/empty.txt", *OUT], "empty"),
    ("lm-blank-file", ["lm", "train", "{ws}/blank.txt", *OUT], ""),
    ("lm-not-utf8", ["lm", "train", "{ws}/latin1.txt", *OUT], "UTF-8"),
    ("lm-folder-as-file", ["lm", "train", "{ws}/folder", *OUT], "folder"),
    ("lm-valid-without-test", ["lm", "train", "{ws}/text.txt", "--valid", "{ws}/text.txt", *OUT], "--test"),
    ("classify-missing", ["classify", "train", "--train", "{ws}/nope.tsv", *OUT], "nope.tsv"),
    ("classify-non-numeric", ["classify", "train", "--train", "{ws}/word.tsv", *OUT], "non-numeric"),
    ("classify-inf", ["classify", "train", "--train", "{ws}/inf.tsv", *OUT], "line 2, value 3: value inf"),
    ("classify-float32-overflow", ["classify", "train", "--train", "{ws}/big.tsv", *OUT], "beyond float32"),
    ("forecast-inf-target", ["forecast", "train", "{ws}/inf.csv", "--target", "y", *OUT],
     "column 'y', data row 5: value inf"),
    ("forecast-overflow-covariate", ["forecast", "train", "{ws}/big.csv", "--target", "y", "--past-covariates", "x",
                                     *OUT], "beyond float32"),
    ("forecast-non-numeric", ["forecast", "train", "{ws}/nonnum.csv", "--target", "y", *OUT], "not numeric"),
    ("forecast-too-short", ["forecast", "train", "{ws}/short.csv", "--target", "y", *OUT], "rows"),
    ("forecast-all-nan", ["forecast", "train", "{ws}/allnan.csv", "--target", "y", *OUT], ""),
    ("forecast-bad-freq", ["forecast", "train", "{ws}/good.csv", "--target", "y", "--freq", "bogus", *OUT], "freq"),
    ("forecast-bad-split", ["forecast", "train", "{ws}/good.csv", "--target", "y", "--split", "1,2", *OUT], "split"),
    ("forecast-bad-quantiles", ["forecast", "train", "{ws}/good.csv", "--likelihood", "quantile", "--quantiles",
                                "a,b", *OUT], "quantiles"),
    ("translate-misaligned", ["translate", "train", "--src", "{ws}/src.txt", "--tgt", "{ws}/tgt.txt", *OUT], ""),
    ("condition-col-on-plain-text", ["lm", "train", "{ws}/prose.txt", "--condition-col", "label", *OUT],
     "does not look like labelled sentences"),
    ("tag-bad-conllu", ["tag", "train", "--train", "{ws}/bad.conllu", *OUT], "bad.conllu"),
    ("tag-conllu-bad-id", ["tag", "train", "--train", "{ws}/badid.conllu", *OUT], "not a CoNLL-U word ID"),
    ("tag-conllu-untagged", ["tag", "train", "--train", "{ws}/untagged.conllu", *OUT], "has no upos"),
    ("music-bad-json", ["music", "train", "{ws}/bad.json", *OUT], "JSON"),
    ("music-note-names", ["music", "train", "{ws}/strnotes.json", *OUT], "strnotes.json"),
    # checkpoints
    ("generate-missing-ckpt", ["lm", "generate", "{ws}/nope.safetensors"], "not found"),
    ("generate-corrupt-ckpt", ["lm", "generate", "{ws}/corrupt.safetensors"], "corrupt"),
    ("generate-folder-ckpt", ["lm", "generate", "{ws}/folder"], "folder"),
    ("generate-wrong-kind", ["lm", "generate", CLF], "not a language-model checkpoint"),
    ("info-corrupt", ["info", "{ws}/corrupt.safetensors"], "corrupt"),
    ("predict-corrupt", ["classify", "predict", "{ws}/corrupt.safetensors", "{ws}/good.tsv"], "corrupt"),
    # options
    ("unknown-option", ["lm", "train", "{ws}/text.txt", "--bogus"], "No such option"),
    ("unknown-command", ["nosuchcommand"], "No such command"),
    ("missing-argument", ["info"], "Missing argument"),
    ("resume-and-overwrite", ["lm", "train", "{ws}/text.txt", "--resume", "--overwrite", *OUT], "exclude"),
    ("resume-nothing", ["lm", "train", "--resume", *OUT], "nothing to resume"),
    ("out-is-a-file", ["lm", "train", "{ws}/text.txt", "--out", "{ws}/text.txt"], "is a file"),
    ("classify-out-is-a-file", ["classify", "train", "--train", "{ws}/good.tsv", "--out", "{ws}/good.tsv"],
     "is a file"),
    ("forecast-evaluate-out-is-a-file", ["forecast", "evaluate", "{ws}/clf/model.safetensors", "{ws}/good.csv",
                                         "--out", "{ws}/good.tsv"], "is a file"),
    ("existing-run", ["lm", "train", "{ws}/text.txt", "--out", "{ws}/lm"], "already holds a training run"),
    ("unknown-cell", ["lm", "train", "{ws}/text.txt", "--cell", "foo", *OUT], "foo"),
    ("unknown-preset", ["lm", "train", "--preset", "nope", *OUT], "nope"),
    ("lm-batch-size-0", ["lm", "train", "{ws}/text.txt", "--batch-size", "0", *OUT], "batch-size"),
    ("lm-epochs-0", ["lm", "train", "{ws}/text.txt", "--epochs", "0", *OUT], "epochs"),
    ("lm-max-time-negative", ["lm", "train", "{ws}/text.txt", "--max-time", "-5", *OUT], "max-time"),
    ("lm-checkpoint-every-negative", ["lm", "train", "{ws}/text.txt", "--checkpoint-every", "-1", *OUT],
     "checkpoint-every"),
    ("classify-batch-size-0", ["classify", "train", "--train", "{ws}/good.tsv", "--batch-size", "0", *OUT],
     "batch-size"),
    ("classify-validation-fraction", ["classify", "train", "--train", "{ws}/good.tsv", "--validation-fraction",
                                      "1.5", *OUT], "validation-fraction"),
    ("classify-bad-class-weight", ["classify", "train", "--train", "{ws}/good.tsv", "--class-weight", "x", *OUT],
     "class"),
    ("classify-bad-znorm", ["classify", "train", "--train", "{ws}/good.tsv", "--znorm", "x", *OUT], "znorm"),
    ("generate-temperature-nan", ["lm", "generate", LM, "-t", "nan"], "temperature"),
    ("generate-temperature-negative", ["lm", "generate", LM, "-t", "-1"], "temperature"),
    ("generate-top-p-7", ["lm", "generate", LM, "-t", "0", "--top-p", "7"], "top-p"),
    ("generate-top-k-0", ["lm", "generate", LM, "--top-k", "0"], "top-k"),
    ("generate-length-negative", ["lm", "generate", LM, "--length", "-3"], "length"),
    ("generate-prompt-unknown-chars", ["lm", "generate", LM, "--prompt", "Ω≈ç"], "prompt"),
    ("evaluate-batch-size-0", ["lm", "evaluate", LM, "{ws}/text.txt", "--batch-size", "0"], "batch-size"),
    ("evaluate-batch-size-negative", ["lm", "evaluate", LM, "{ws}/text.txt", "--batch-size", "-3"], "batch-size"),
    ("evaluate-bptt-0", ["lm", "evaluate", LM, "{ws}/text.txt", "--bptt", "0"], "bptt"),
    ("translate-beam-0", ["translate", "train", "--src", "{ws}/src.txt", "--tgt", "{ws}/src.txt", "--beam", "0",
                          *OUT], "beam"),
    ("music-bpm-0", ["music", "generate", MUSIC, "--bpm", "0", "--output", "{out}/x.mid"], "bpm"),
    ("music-steps-per-quarter-0", ["music", "generate", MUSIC, "--steps-per-quarter", "0", "--output",
                                   "{out}/x.mid"], "steps-per-quarter"),
    ("inspect-max-tokens-0", ["inspect", "activations", LM, "--max-tokens", "0", *OUT], "max-tokens"),
    ("inspect-clip-negative", ["inspect", "long-range", "--clip", "-1", "--steps", "1", "--out", "{out}/x.png"],
     "clip"),
    ("demo-negative-seconds", ["demo", "--seconds", "-1", *OUT], "seconds"),
]


def snapshot(root: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if "cache" not in p.parts and p.name != ".rnnkit.lock"}


@pytest.mark.parametrize("case, args, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_error_line(ws, tmp_path, case, args, fragment):
    out = tmp_path / "out"
    argv = [a.format(ws=ws, out=out) for a in args]
    before = snapshot(ws)
    env = {**os.environ, "RNNKIT_CACHE": str(tmp_path / "cache"), "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "rnnkit", *argv], capture_output=True, text=True, cwd=tmp_path,
                       env=env, timeout=120)
    lines = [x for x in (r.stdout + r.stderr).splitlines() if x.strip()]
    assert "Traceback" not in r.stdout + r.stderr, r.stderr
    assert r.returncode == 2, (r.returncode, lines)
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    assert fragment.lower() in lines[0].lower(), lines[0]
    assert snapshot(ws) == before  # nothing written next to the inputs
    written = [p for p in tmp_path.rglob("*") if "cache" not in p.parts and not p.is_dir()
               and p.name != ".rnnkit.lock"]
    assert not [p for p in written if out not in p.parents], written  # nor anywhere but --out


# ---------------------------------------------------------------- every ranged option, generated


def _commands(typer_app, prefix=()):
    from rnnkit.cli.main import LAZY_GROUPS, group_app

    for c in typer_app.registered_commands:
        yield (*prefix, c.name or c.callback.__name__.replace("_", "-")), c.callback
    for g in typer_app.registered_groups:
        yield from _commands(g.typer_instance, (*prefix, g.name))
    if not prefix:  # the groups the top level loads only when used
        for name in LAZY_GROUPS:
            yield from _commands(group_app(name), (name,))


def _option_cases():
    """For every option of every command that OPTION_RANGES covers: a value just outside its
    range, NaN (floats), and text that is not a number."""
    import inspect

    import typer

    from rnnkit.cli.common import OPTION_RANGES
    from rnnkit.cli.main import app

    cases = []
    for path, callback in _commands(app):
        for p in inspect.signature(callback).parameters.values():
            info = p.default
            if not isinstance(info, typer.models.OptionInfo) or p.name not in OPTION_RANGES:
                continue
            flag = next(d for d in info.param_decls or ("--" + p.name.replace("_", "-"),) if d.startswith("--"))
            flag = flag.split("/")[0]
            is_float = "float" in str(p.annotation)
            if not is_float and "int" not in str(p.annotation):
                continue  # a list given as text (inspect long-range --clip 1,none): checked by the library
            for kind, b in OPTION_RANGES[p.name].items():
                step = 0.5 if is_float else 1
                bad = {"ge": b - step, "gt": b, "le": b + step, "lt": b}[kind]
                cases.append((f"{' '.join(path)} {flag} {bad:g}", [*path, flag, f"{bad:g}"], flag))
            if is_float:
                cases.append((f"{' '.join(path)} {flag} nan", [*path, flag, "nan"], flag))
            cases.append((f"{' '.join(path)} {flag} abc", [*path, flag, "abc"], flag))
    return cases


OPTION_CASES = _option_cases()


@pytest.mark.parametrize("case, argv, flag", OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
def test_option_out_of_range_is_one_error_line(case, argv, flag, tmp_path, monkeypatch, capsys):
    """The same ``main()`` the script runs, in-process (the values are refused while the command
    line is parsed, before any command body runs, so a subprocess each would add nothing)."""
    from rnnkit.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["rnnkit", *argv])
    with pytest.raises(SystemExit) as stop:
        main()
    out = capsys.readouterr()
    lines = [x for x in (out.out + out.err).splitlines() if x.strip()]
    assert stop.value.code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("error:") and flag in lines[0], lines
    assert not any(tmp_path.iterdir())  # nothing written


def test_the_table_is_large():
    assert len(CASES) + len(OPTION_CASES) >= 250
