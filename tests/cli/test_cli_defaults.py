"""Each default is written once, in the estimator: train commands leave their model options at
None, pass only what the user gave, and show the estimator's value in --help."""

import pytest
import typer
from typer.testing import CliRunner

from rnnkit import Forecaster, MusicModeler, RNNClassifier, RNNTagger, Translator
from rnnkit.cli.common import given, model_defaults, never_if_zero
from rnnkit.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize("group, estimator, option, param", [
    ("classify", RNNClassifier, "--epochs", "epochs"), ("tag", RNNTagger, "--hidden", "hidden_size"),
    ("forecast", Forecaster, "--horizon", "horizon"), ("translate", Translator, "--epochs", "epochs"),
    ("music", MusicModeler, "--lr", "lr"),
])
def test_help_shows_the_estimators_default(group, estimator, option, param):
    r = runner.invoke(app, [group, "train", "--help"], env={"COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"})
    assert r.exit_code == 0
    line = next(x for x in r.output.splitlines() if f" {option} " in x)
    value = estimator.defaults()[param]
    by_input = getattr(estimator, "AUTO_DEFAULTS", {}).get(param)
    if value == "auto" and by_input:  # a default that depends on the input says both (and with --encoder, if any)
        value = "auto: " + ", ".join(f"{v} for {kind}" for kind, v in by_input.items())
        with_encoder = getattr(estimator, "ENCODER_DEFAULTS", {})
        if param in with_encoder:
            value += f", {with_encoder[param]} with --encoder"
    assert f"[default: ({value})]" in line


def test_a_command_with_its_own_default_is_refused():
    def train(epochs: int = typer.Option(7, help="Passes.")) -> None:
        pass

    with pytest.raises(TypeError, match="sets its own default"):
        model_defaults(RNNClassifier)(train)


def test_only_given_options_reach_the_estimator():
    assert given(a=1, b=None, c=0) == {"a": 1, "c": 0}
    assert never_if_zero(early_stopping=None) == {}  # not given: the estimator's default
    assert never_if_zero(early_stopping=0) == {"early_stopping": None}  # 0: never
    assert never_if_zero(early_stopping=4) == {"early_stopping": 4}
