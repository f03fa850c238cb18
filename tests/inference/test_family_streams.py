"""Every family's stream: full sequence == step by step == chunks with the state carried
(through bytes, copies, split and join); bad states and inputs are one-line errors."""

import numpy as np
import pytest
import torch

from rnnkit.errors import ConfigError
from rnnkit.inference import (
    ClassifierStream,
    ConditionedStream,
    DecoderStream,
    ForecastStream,
    LanguageStream,
    LMClassifierStream,
    MusicStream,
    TaggerStream,
    join,
)
from rnnkit.models import (
    ConditionedLM,
    ConditionedLMConfig,
    LanguageModel,
    LanguageModelConfig,
    LMClassifier,
    LMClassifierConfig,
    Seq2Seq,
    Seq2SeqConfig,
    SequenceClassifier,
    SequenceClassifierConfig,
    SequenceTagger,
    SequenceTaggerConfig,
)
from rnnkit.models.forecaster import ForecastNet, ForecastNetConfig
from rnnkit.models.music_model import PolyphonicModel, PolyphonicModelConfig

B, T = 3, 10
ATOL = 1e-5


def _ids(vocab=20):
    return torch.randint(1, vocab, (B, T))


def _check_sequence_steps_chunks(stream_factory, inputs: np.ndarray, reference: np.ndarray):
    """The stream over all steps, one step at a time, and in two chunks with the state
    carried through bytes into a fresh stream: all equal ``reference`` (B, T, ...)."""
    s = stream_factory()
    np.testing.assert_allclose(s.feed(inputs), reference, atol=ATOL)
    s = stream_factory()
    steps = np.stack([s.step(inputs[:, t]) for t in range(inputs.shape[1])], 1)
    np.testing.assert_allclose(steps, reference, atol=ATOL)
    first = stream_factory()
    a = first.feed(inputs[:, :4])
    second = stream_factory()
    second.restore(first.to_bytes())
    b = second.feed(inputs[:, 4:])
    np.testing.assert_allclose(np.concatenate([a, b], 1), reference, atol=ATOL)
    # split after 4 steps, join the pieces again (reversed and back): same continuation
    pieces = first.split()
    assert [p.batch for p in pieces] == [1] * B
    rejoined = join(pieces)
    np.testing.assert_allclose(rejoined.feed(inputs[:, 4:]), reference[:, 4:], atol=ATOL)
    np.testing.assert_allclose(pieces[1].feed(inputs[1:2, 4:]), reference[1:2, 4:], atol=ATOL)


NEW_CELLS = ["peephole_lstm", "layernorm_lstm", "mingru", "minlstm", "slstm", "mlstm"]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", *NEW_CELLS])
def test_language_stream(cell):
    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(20, cell, 12, 2, embedding_size=6)).eval()
    ids = _ids()
    with torch.no_grad():
        ref, _ = model(ids)
    _check_sequence_steps_chunks(lambda: LanguageStream(model, B), ids.numpy(), ref.numpy())


@pytest.mark.parametrize("cell", NEW_CELLS)
def test_new_cells_stream_through_the_torch_engine(cell):
    torch.manual_seed(0)
    config = SequenceClassifierConfig(4, input_size=3, cell=cell, hidden_size=8, num_layers=2, bidirectional=False)
    model = SequenceClassifier(config).eval()
    x = torch.randn(B, T, 3)
    with torch.no_grad():
        ref = torch.stack([model(x, lengths=torch.full((B,), t + 1)) for t in range(T)], 1)
    _check_sequence_steps_chunks(lambda: ClassifierStream(model, B), x.numpy(), ref.numpy())
    assert "torch step engine" in ClassifierStream(model, B).explain()
    s2s = Seq2Seq(Seq2SeqConfig(15, 20, cell=cell, hidden_size=8, embedding_size=6)).eval()
    src, lengths, tgt = torch.randint(1, 15, (B, 7)), torch.tensor([7, 4, 2]), _ids()
    with torch.no_grad():
        ref = s2s(src, lengths, tgt)
    _check_sequence_steps_chunks(lambda: DecoderStream(s2s, src, lengths), tgt.numpy(), ref.numpy())


def test_conditioned_stream():
    torch.manual_seed(0)
    for config in (ConditionedLMConfig(20, num_labels=3, hidden_size=8, num_layers=2),
                   ConditionedLMConfig(20, feature_size=4, hidden_size=8, cell="gru", condition_every_step=False)):
        model = ConditionedLM(config).eval()
        cond = torch.tensor([0, 2, 1]) if config.num_labels else torch.randn(B, 4)
        ids = _ids()
        with torch.no_grad():
            ref, _ = model(ids, cond)
        _check_sequence_steps_chunks(lambda m=model, c=cond: ConditionedStream(m, c.numpy()), ids.numpy(), ref.numpy())


@pytest.mark.parametrize("attention", ["general", "dot", "additive", "none"])
def test_decoder_stream(attention):
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(15, 20, hidden_size=8, embedding_size=6, attention=attention)).eval()
    src, lengths = torch.randint(1, 15, (B, 7)), torch.tensor([7, 4, 2])
    tgt = _ids()
    with torch.no_grad():
        ref = model(src, lengths, tgt)
    _check_sequence_steps_chunks(lambda: DecoderStream(model, src, lengths), tgt.numpy(), ref.numpy())
    s = DecoderStream(model, src, lengths)
    s.feed(tgt.numpy()[:, :2])
    if attention != "none":
        assert np.allclose(s.attention.sum(-1), 1.0, atol=1e-5) and (s.attention[2, 2:] == 0).all()


@pytest.mark.parametrize("kind", ["words", "series"])
def test_tagger_stream(kind):
    torch.manual_seed(0)
    words = kind == "words"
    config = SequenceTaggerConfig(5, vocab_size=20 if words else None, input_size=None if words else 3,
                                  embedding_size=6, hidden_size=8, num_layers=2, bidirectional=False)
    model = SequenceTagger(config).eval()
    x = _ids() if words else torch.randn(B, T, 3)
    with torch.no_grad():
        ref = model(x)
    _check_sequence_steps_chunks(lambda: TaggerStream(model, B), x.numpy(), ref.numpy())


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_classifier_stream_gives_the_prediction_for_each_prefix(pooling):
    torch.manual_seed(0)
    config = SequenceClassifierConfig(4, input_size=3, hidden_size=8, num_layers=2, bidirectional=False,
                                      pooling=pooling)
    model = SequenceClassifier(config).eval()
    model.set_input_scaling(torch.tensor([1.0, -2.0, 0.5]), torch.tensor([2.0, 0.5, 1.0]))
    x = torch.randn(B, T, 3)
    with torch.no_grad():  # the running prediction after t steps is the model's on the first t steps
        ref = torch.stack([model(x, lengths=torch.full((B,), t + 1)) for t in range(T)], 1)
    _check_sequence_steps_chunks(lambda: ClassifierStream(model, B), x.numpy(), ref.numpy())


@pytest.mark.parametrize("cell, proj_size", [("lstm", 0), ("gru", 0), ("lstm", 5)])
def test_transfer_classifier_stream_gives_the_prediction_for_each_prefix(cell, proj_size):
    # concat pooling (last, max, mean) online, the LayerNorm head in NumPy; an LSTMP encoder
    # (the awd-lstm preset's) steps through the torch engine, the others through NumPy's
    torch.manual_seed(0)
    lm = LanguageModelConfig(vocab_size=20, cell=cell, hidden_size=8, num_layers=2, embedding_size=6,
                             proj_size=proj_size, dropout=0.3, weight_drop=0.4, embedding_dropout=0.1)
    model = LMClassifier(LMClassifierConfig(num_classes=3, language_model=lm, head_hidden=7)).eval()
    for p in model.head.parameters():  # LayerNorm's affine away from its 1 / 0 start
        torch.nn.init.normal_(p, 0.0, 0.5)
    ids = torch.randint(0, 20, (B, T))
    with torch.no_grad():
        ref = torch.stack([model(ids[:, :t + 1]) for t in range(T)], 1)
    _check_sequence_steps_chunks(lambda: LMClassifierStream(model, B), ids.numpy(), ref.numpy())


def test_music_stream():
    torch.manual_seed(0)
    model = PolyphonicModel(PolyphonicModelConfig(hidden_size=8, num_layers=2)).eval()
    frames = (torch.rand(B, T, 88) < 0.1).float()
    with torch.no_grad():
        ref, _ = model(frames)
    _check_sequence_steps_chunks(lambda: MusicStream(model, B), frames.numpy(), ref.numpy())


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_forecast_stream_equals_the_window_forecast(decoder):
    torch.manual_seed(0)
    model = ForecastNet(ForecastNetConfig(n_targets=2, horizon=3, n_known=1, hidden_size=8, decoder=decoder,
                                          highway=4)).eval()
    for p in model.parameters():  # the zero-initialised head would make every answer the naive forecast
        torch.nn.init.normal_(p, std=0.3)
    rows = np.random.default_rng(0).normal(size=(B, 20, 3)).astype(np.float32)
    future = np.random.default_rng(1).normal(size=(B, 3, 1)).astype(np.float32)
    s = ForecastStream(model, context=8, batch=B)
    for t in range(7):
        s.update(rows[:, t])
    with pytest.raises(ConfigError, match="reads the last 8 rows; a series has seen 7"):
        s.forecast(future)
    copy = s.copy()
    for t in range(7, 20):
        out = s.step(rows[:, t], future)
        with torch.no_grad():
            ref = model(torch.from_numpy(rows[:, t - 7:t + 1]), torch.from_numpy(future)).numpy()
        np.testing.assert_allclose(out, ref, atol=ATOL)
    restored = ForecastStream(model, context=8, batch=1)
    restored.restore(s.to_bytes())
    np.testing.assert_allclose(restored.forecast(future), out, atol=ATOL)
    assert copy.seen[0, 0] == 7  # the copy did not move
    with pytest.raises(ConfigError, match="known covariate"):
        restored.forecast()
    with pytest.raises(ConfigError, match=r"\(batch=3, 3 values"):
        restored.update(np.zeros((3, 2)))
    with pytest.raises(ConfigError, match="finite"):
        restored.update(np.full((3, 3), np.nan))


def _lm():
    torch.manual_seed(0)
    return LanguageModel(LanguageModelConfig(20, "lstm", 8, 2)).eval()


def test_copy_reset_and_state_dict():
    model = _lm()
    s = LanguageStream(model, 2)
    s.feed(np.array([[1, 2, 3], [4, 5, 6]]))
    c = s.copy()
    a = s.step(np.array([7, 8]))
    b = c.step(np.array([7, 8]))
    np.testing.assert_array_equal(a, b)  # same point, independent states
    state = s.state_dict()
    assert set(state) == {"h", "c"} and state["h"].shape == (2, 2, 8) and state["h"].dtype == np.float32
    s.reset()
    fresh = LanguageStream(model, 2)
    np.testing.assert_array_equal(s.step(np.array([1, 1])), fresh.step(np.array([1, 1])))
    assert "numpy step engine" in s.explain()


def test_bad_states_and_inputs_are_one_line_errors():
    model = _lm()
    s = LanguageStream(model, 2)
    state = s.state_dict()
    with pytest.raises(ConfigError, match=r"state 'c' must be float32 of shape \(2, 2, 8\), got float32 of shape"):
        s.load_state_dict({"h": state["h"], "c": state["c"][:, :, :4]})
    with pytest.raises(ConfigError, match="must be float32"):
        s.load_state_dict({"h": state["h"].astype(np.float64), "c": state["c"]})
    with pytest.raises(ConfigError, match=r"missing \['c'\]"):
        s.load_state_dict({"h": state["h"]})
    other = LanguageModel(LanguageModelConfig(20, "lstm", 8, 2)).eval()
    with pytest.raises(ConfigError, match="belongs to a language model stream of model"):
        LanguageStream(other, 2).restore(s.to_bytes())
    with pytest.raises(ConfigError, match="not a saved stream state"):
        s.restore(b"garbage")
    with pytest.raises(ConfigError, match="token ids must lie in"):
        s.step(np.array([1, 20]))
    with pytest.raises(ConfigError, match="reads token ids"):
        s.step(np.array([1.0, 2.0]))
    with pytest.raises(ConfigError, match=r"step takes \(batch=2,\)"):
        s.step(np.array([1, 2, 3]))
    tagger = SequenceTagger(SequenceTaggerConfig(3, input_size=4, hidden_size=8, num_layers=1, bidirectional=False))
    with pytest.raises(ConfigError, match="reads 4 feature"):
        TaggerStream(tagger).step(np.zeros((1, 5)))
    with pytest.raises(ConfigError, match="bidirectional"):
        TaggerStream(SequenceTagger(SequenceTaggerConfig(3, input_size=4)))
    with pytest.raises(ConfigError, match="whole sequence and cannot stream"):
        ClassifierStream(SequenceClassifier(SequenceClassifierConfig(2, input_size=1, bidirectional=False,
                                                                     znorm=True)))
    with pytest.raises(ConfigError, match="only streams of one model"):
        join([LanguageStream(model), LanguageStream(other)])
