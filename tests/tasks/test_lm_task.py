"""The language-modelling task end to end through the Python API."""

import pytest

from rnnkit.data.builtin import python_stdlib_text
from rnnkit.errors import ConfigError
from rnnkit.tasks import lm


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))


def test_presets_and_overrides():
    s = lm.LMSettings.from_preset("zaremba-small", train_files=["a.txt"], epochs=2, lr=None)
    assert (s.hidden_size, s.bptt, s.epochs, s.lr, s.preset) == (200, 20, 2, 20.0, "zaremba-small")
    with pytest.raises(ConfigError, match="unknown preset"):
        lm.LMSettings.from_preset("gpt")
    with pytest.raises(ConfigError, match="unknown language-model option"):
        lm.LMSettings.from_preset(None, hiden_size=3)
    with pytest.raises(ConfigError, match="unknown optimizer"):
        lm.LMSettings(optimizer="rmsprop")


def test_a_smaller_hidden_size_than_a_preset_expects_names_the_options_to_give_too():
    # awd-lstm projects to 400 and ties a 400-wide embedding: --hidden 64 alone contradicts both
    with pytest.raises(ConfigError, match=r"projects each layer's output to 400 .* give --proj-size \(proj_size\) "
                                          r"below 64"):
        lm.LMSettings.from_preset("awd-lstm", hidden_size=64)
    with pytest.raises(ConfigError, match=r"ties the embedding .* \(32, from --proj-size\), got 400; give "
                                          r"--embedding 32"):
        lm.LMSettings.from_preset("awd-lstm", hidden_size=64, proj_size=32)
    s = lm.LMSettings.from_preset("awd-lstm", hidden_size=64, proj_size=32, embedding_size=32)
    assert (s.hidden_size, s.proj_size, s.embedding_size, s.tie_weights) == (64, 32, 32, True)
    assert lm.LMSettings.from_preset("awd-lstm", hidden_size=64, proj_size=0, tie_weights=False).proj_size == 0
    # a user's own contradiction is the model's one-line error, as without a preset
    with pytest.raises(ConfigError, match="tie_weights needs embedding_size"):
        lm.LMSettings.from_preset("zaremba-small", tie_weights=True, embedding_size=32)


def test_stdlib_demo_corpus_is_available_offline():
    text = python_stdlib_text(max_chars=50_000)
    assert len(text) == 50_000 and text.isascii() and "def " in text


def test_train_beats_the_unigram_baseline(tmp_path):
    path = tmp_path / "code.txt"
    path.write_text(python_stdlib_text(max_chars=60_000))
    settings = lm.LMSettings(train_files=[str(path)], hidden_size=64, num_layers=1, batch_size=16, bptt=32,
                             epochs=2, lr=5e-3, progress=False, sample_every=0, device="cpu")
    result = lm.train(settings, tmp_path / "run")
    model = lm.load(result.best_checkpoint)
    scores = model.evaluate(path)
    assert scores["loss"] < scores["unigram_loss"] - 0.5
    assert model.generate("def ", length=20, temperature=0, seed=0).startswith("def ")


@pytest.mark.slow
def test_char_model_on_tiny_shakespeare_beats_baseline(shared_data, tmp_path):
    path = shared_data / "tinyshakespeare" / "input.txt"
    if not path.exists():
        pytest.skip("tinyshakespeare not present")
    settings = lm.LMSettings.from_preset("char-rnn-small", train_files=[str(path)], epochs=1, progress=False,
                                         sample_every=0, device="cpu")
    result = lm.train(settings, tmp_path / "run")
    model = lm.load(result.best_checkpoint)
    scores = model.evaluate(path, batch_size=16, bptt=100)
    assert scores["loss"] < 2.0 < scores["unigram_loss"]  # 1 epoch of 2x128 reaches ~1.7 nats/char


def test_settings_mirror_every_config_field_or_say_why_not():
    """A field renamed in a config dataclass must not be dropped silently by LMSettings."""
    import dataclasses
    from dataclasses import fields

    from rnnkit.models import LanguageModelConfig
    from rnnkit.training import OptimConfig, TrainerConfig

    settings = lm.LMSettings()
    names = {f.name for f in fields(lm.LMSettings)}
    for cls in (LanguageModelConfig, TrainerConfig, OptimConfig):
        assert {f.name for f in fields(cls)} - lm.LMSettings.NOT_MIRRORED[cls.__name__] <= names, cls.__name__
        settings._shared(cls)  # and the run's values reach it

    @dataclasses.dataclass
    class TrainerConfig:  # a config with a field the settings do not know
        epochs: int = 1
        warmup_steps: int = 0

    with pytest.raises(TypeError, match="does not mirror TrainerConfig.warmup_steps"):
        settings._shared(TrainerConfig)


def test_validation_is_capped_under_a_time_budget(tmp_path):
    """With --max-time (or --eval-max-tokens) validation while training cannot outlast the budget."""
    path = tmp_path / "text.txt"
    path.write_text("abcdefgh\n" * 400)
    base = dict(train_files=[str(path)], hidden_size=8, num_layers=1, progress=False, sample_every=0, device="cpu")
    def scored(**kw):
        task = lm._task(lm.LMSettings(**base, **kw))
        return task.evaluate(task.model, "valid")["tokens"]

    everything = scored()
    assert scored(eval_max_tokens=50) <= 50 < everything
    assert scored(max_time=60.0) == everything  # capped at 1,000,000 tokens: more than this corpus has


def test_evaluation_streams_grow_with_the_text():
    from rnnkit.tasks.lm import auto_streams

    assert auto_streams(10) == 1 and auto_streams(1_000_000) == 1 and auto_streams(1_000_001) == 2
    assert auto_streams(54_000_000) == 54 and auto_streams(10**9) == 64
