"""Classifier and tagger: padding never leaks (a padded batch == each sequence alone), pooling, overfit."""

import pytest
import torch
from torch import nn

from rnnkit.errors import ConfigError
from rnnkit.layers.char_encoder import CharWordEncoder
from rnnkit.layers.pooling import valid_mask
from rnnkit.models import SequenceClassifier, SequenceClassifierConfig, SequenceTagger, SequenceTaggerConfig
from rnnkit.models.classifier import znormalise


def _padded(seqs, value=0.0):
    return nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=value)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("znorm", [False, True])
def test_classifier_padded_batch_equals_each_alone(pooling, bidirectional, znorm):
    model = SequenceClassifier(SequenceClassifierConfig(num_classes=3, input_size=2, hidden_size=6, num_layers=2,
                                                        bidirectional=bidirectional, pooling=pooling,
                                                        znorm=znorm)).double().eval()
    seqs = [torch.randn(n, 2, dtype=torch.double) for n in (7, 3, 5)]
    lengths = torch.tensor([7, 3, 5])
    batch = model(_padded(seqs, value=123.0), lengths)  # garbage padding must not matter
    for i, s in enumerate(seqs):
        torch.testing.assert_close(batch[i], model(s.unsqueeze(0))[0])


def test_classifier_with_token_ids_and_errors():
    model = SequenceClassifier(SequenceClassifierConfig(num_classes=2, vocab_size=20, embedding_size=8,
                                                        hidden_size=8)).eval()
    ids = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])
    out = model(ids, torch.tensor([3, 2]))
    torch.testing.assert_close(out[1], model(ids[1:, :2])[0])
    with pytest.raises(ConfigError, match="exactly one of input_size"):
        SequenceClassifierConfig(num_classes=2)
    with pytest.raises(ConfigError, match="unknown pooling"):
        SequenceClassifierConfig(num_classes=2, input_size=1, pooling="sum")


def test_znormalise_uses_valid_steps_only():
    x = torch.tensor([[[1.0], [3.0], [100.0]]])
    z = znormalise(x, valid_mask(torch.tensor([2]), 3))
    torch.testing.assert_close(z[0, :, 0], torch.tensor([-1.0, 1.0, 0.0]), atol=1e-6, rtol=0)


def test_classifier_can_overfit():
    torch.manual_seed(0)
    x = torch.randn(16, 12, 1)
    y = (x[:, :, 0].mean(1) > 0).long()
    model = SequenceClassifier(SequenceClassifierConfig(num_classes=2, input_size=1, hidden_size=16, pooling="mean"))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (model(x).argmax(1) == y).all()


def test_tagger_padded_batch_equals_each_alone_with_char_features():
    torch.manual_seed(0)
    model = SequenceTagger(SequenceTaggerConfig(num_tags=4, vocab_size=30, embedding_size=8, num_chars=12,
                                                char_embedding=4, char_hidden=5, hidden_size=6)).double().eval()
    words = [torch.randint(1, 30, (n,)) for n in (5, 2)]
    chars = [torch.randint(1, 12, (n, 6)) for n in (5, 2)]
    char_lens = [torch.randint(1, 7, (n,)) for n in (5, 2)]
    lengths = torch.tensor([5, 2])
    logits = model(_padded(words), lengths, _padded(chars), _padded(char_lens))
    assert logits.shape == (2, 5, 4) and not logits[1, 2:].any()
    for i in range(2):
        alone = model(words[i].unsqueeze(0), None, chars[i].unsqueeze(0), char_lens[i].unsqueeze(0))[0]
        torch.testing.assert_close(logits[i, : lengths[i]], alone)


def test_tagger_loss_ignores_padding():
    logits = torch.randn(2, 3, 4)
    tags = torch.tensor([[1, 2, 3], [0, 9999, 9999]])  # padded tags are never read
    lengths = torch.tensor([3, 1])
    loss = SequenceTagger.loss(logits, tags.clamp(max=3), lengths)
    expected = nn.functional.cross_entropy(torch.cat([logits[0], logits[1, :1]]), torch.tensor([1, 2, 3, 0]))
    torch.testing.assert_close(loss, expected)


def test_char_encoder_zero_for_padding_words():
    enc = CharWordEncoder(10, 4, 3)
    chars = torch.randint(1, 10, (1, 3, 5))
    out = enc(chars, torch.tensor([[5, 2, 0]]))
    assert out.shape == (1, 3, 6) and not out[0, 2].any() and out[0, 0].any()


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_fcn_padded_batch_equals_each_alone(bidirectional):
    torch.manual_seed(0)
    model = SequenceClassifier(SequenceClassifierConfig(num_classes=3, input_size=2, hidden_size=6,
                                                        bidirectional=bidirectional, conv_branch=True,
                                                        znorm=True)).double()
    model.train()
    model(torch.randn(4, 9, 2, dtype=torch.double))  # move the batch-norm running statistics off their init
    model.eval()
    seqs = [torch.randn(n, 2, dtype=torch.double) for n in (9, 4, 6)]
    batch = model(_padded(seqs, value=-55.0), torch.tensor([9, 4, 6]))
    for i, s in enumerate(seqs):
        torch.testing.assert_close(batch[i], model(s.unsqueeze(0))[0])


def test_text_classifier_with_char_features_padding_invariant():
    torch.manual_seed(0)
    model = SequenceClassifier(SequenceClassifierConfig(num_classes=2, vocab_size=30, embedding_size=8, num_chars=12,
                                                        char_embedding=4, char_hidden=5, hidden_size=6,
                                                        pooling="attention")).double().eval()
    words = [torch.randint(1, 30, (n,)) for n in (5, 2)]
    chars = [torch.randint(1, 12, (n, 6)) for n in (5, 2)]
    lens = [(c != 0).sum(-1) for c in chars]
    out = model(_padded(words), torch.tensor([5, 2]), _padded(chars), _padded(lens))
    for i in range(2):
        alone = model(words[i].unsqueeze(0), None, chars[i].unsqueeze(0), lens[i].unsqueeze(0))[0]
        torch.testing.assert_close(out[i], alone)
    with pytest.raises(ValueError, match="character features"):
        model(words[0].unsqueeze(0))
    with pytest.raises(ConfigError, match="character features need word input"):
        SequenceClassifierConfig(num_classes=2, input_size=3, num_chars=5)
