"""The trainer: state carried, detached and reset; exact resume; schedules; early stopping."""

import json

import numpy as np
import pytest
import torch

from rnnkit.data import StreamBatches
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.training import Trainer, TrainerConfig
from rnnkit.training.optim import LRSchedule, OptimConfig


class RecordingLMTask:
    """A tiny LM task that records the state handed to each training step."""

    carries_state = True

    def __init__(self, ids, batch_size=2, bptt=5, dropout=0.0, seed=0):
        torch.manual_seed(seed)
        self.model = LanguageModel(LanguageModelConfig(vocab_size=int(ids.max()) + 1, hidden_size=8, num_layers=2,
                                                       dropout=dropout))
        self.batches = StreamBatches(ids, batch_size, bptt)
        self.seen_states = []
        self.returned_states = []

    def train_batches(self, epoch):
        return self.batches

    def train_step(self, model, batch, state):
        self.seen_states.append(state)
        x, y = batch
        logits, new_state = model(x, state)
        self.returned_states.append(new_state)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        return loss, new_state, y.numel()

    def evaluate(self, model, split):
        with torch.no_grad():
            x, y = self.batches.window(0)
            logits, _ = model(x)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            return {"loss": float(loss)}

    def describe(self, loss):
        return {}

    def meta(self):
        return {"task": "test-lm"}


def _ids(n=60, seed=0):
    return np.random.default_rng(seed).integers(0, 6, size=n)


def _config(**kw):
    base = dict(epochs=2, optim=OptimConfig(optimizer="sgd", lr=0.5), checkpoint_every=0, device="cpu",
                progress=False, sample_every=0, log_every=1)
    base.update(kw)
    return TrainerConfig(**base)


def test_state_is_carried_detached_and_reset_each_epoch(tmp_path):
    task = RecordingLMTask(_ids())
    Trainer(task, _config(), tmp_path).fit()
    per_epoch = len(task.batches)
    for i, state in enumerate(task.seen_states):
        if i % per_epoch == 0:
            assert state is None, "state must reset at the start of every epoch"
        else:
            prev = task.returned_states[i - 1]
            for got, before in zip(state, prev):
                assert torch.equal(got, before.detach()), "the previous window's final state is carried"
                assert got.grad_fn is None and not got.requires_grad, "carried state must be detached"
            assert prev[0].grad_fn is not None  # ... from a state that did have history


def _train_losses(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines) if r["kind"] == "train"}


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_exact_resume_after_stop_mid_epoch(tmp_path, dropout):
    full_dir, cut_dir = tmp_path / "full", tmp_path / "cut"
    Trainer(RecordingLMTask(_ids(), dropout=dropout), _config(epochs=3), full_dir).fit()
    full = _train_losses(full_dir)

    def stop_at_5(trainer, record):
        if record["step"] == 5:
            trainer.request_stop("interrupted")

    first = Trainer(RecordingLMTask(_ids(), dropout=dropout), _config(epochs=3), cut_dir, callbacks=[stop_at_5]).fit()
    assert first.stopped_because == "interrupted" and first.global_step == 5
    assert 0 < 5 % len(RecordingLMTask(_ids()).batches), "the stop must fall mid-epoch for this test"
    # a fresh process would build everything anew; the seed differs to prove weights come from the checkpoint
    resumed = Trainer(RecordingLMTask(_ids(), dropout=dropout, seed=99), _config(epochs=3), cut_dir).fit(resume=True)
    assert resumed.stopped_because == "completed"
    cut = _train_losses(cut_dir)
    assert sorted(cut) == sorted(full)
    assert [cut[s] for s in sorted(cut)] == [full[s] for s in sorted(full)], "the loss curve must match exactly"


def test_resume_after_crash_from_last_periodic_checkpoint(tmp_path):
    full_dir, crash_dir = tmp_path / "full", tmp_path / "crash"
    Trainer(RecordingLMTask(_ids(), dropout=0.2), _config(checkpoint_every=3), full_dir).fit()

    def crash_at_7(trainer, record):
        if record["step"] == 7:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        Trainer(RecordingLMTask(_ids(), dropout=0.2), _config(checkpoint_every=3), crash_dir,
                callbacks=[crash_at_7]).fit()
    Trainer(RecordingLMTask(_ids(), dropout=0.2), _config(checkpoint_every=3), crash_dir).fit(resume=True)
    assert _train_losses(crash_dir) == _train_losses(full_dir)


def test_gradient_norm_is_logged_and_clipped(tmp_path):
    task = RecordingLMTask(_ids())
    Trainer(task, _config(epochs=1, clip=1e-3, optim=OptimConfig(optimizer="sgd", lr=1.0)), tmp_path).fit()
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    norms = [r["grad_norm"] for r in records if r["kind"] == "train"]
    assert norms and all(n > 1e-3 for n in norms)  # the pre-clipping norm is what is logged
    assert (tmp_path / "best.safetensors").exists() and (tmp_path / "last.safetensors").exists()


def test_zaremba_cosine_and_plateau_schedules():
    z = LRSchedule(OptimConfig(optimizer="sgd", lr=1.0, schedule="zaremba", decay=0.5, decay_start=4), 8, 10)
    assert [z.lr(e, 0) for e in range(7)] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25, 0.125]
    c = LRSchedule(OptimConfig(lr=1.0, schedule="cosine", min_lr=0.0), 2, 10)
    assert c.lr(0, 0) == 1.0 and c.lr(1, 0) == pytest.approx(0.5) and c.lr(1, 10) == pytest.approx(0.0)
    p = LRSchedule(OptimConfig(lr=1.0, schedule="plateau", decay=0.1, patience=1), 5, 10)
    for loss in (3.0, 2.0, 2.5, 2.6):
        p.end_of_epoch(loss)
    assert p.lr(4, 0) == pytest.approx(0.1)
    restored = LRSchedule(OptimConfig(lr=1.0, schedule="plateau", decay=0.1, patience=1), 5, 10)
    restored.load_state_dict(p.state_dict())
    assert restored.lr(4, 0) == p.lr(4, 0)


def test_early_stopping(tmp_path):
    task = RecordingLMTask(_ids())
    losses = iter([1.0, 1.5, 1.6, 1.7, 1.8])
    task.evaluate = lambda model, split: {"loss": next(losses)}
    result = Trainer(task, _config(epochs=5, early_stopping=2), tmp_path).fit()
    assert result.epochs_completed == 3 and result.stopped_because.startswith("early stopping")
    assert result.best_valid_loss == 1.0


def test_bf16_autocast_trains(tmp_path):
    task = RecordingLMTask(_ids())
    result = Trainer(task, _config(epochs=1, bf16=True), tmp_path).fit()
    losses = _train_losses(tmp_path)
    assert result.global_step == len(task.batches) and all(np.isfinite(list(losses.values())))


def test_the_progress_rate_names_what_the_task_counts(monkeypatch, capsys):
    from rnnkit import RNNClassifier, RNNTagger
    from rnnkit.training.progress import rate

    assert (rate(12_345, "tok"), rate(45.2, "windows"), rate(2.46, "utt")) == ("12.3k tok/s", "45 windows/s",
                                                                               "2.5 utt/s")
    monkeypatch.setenv("RNNKIT_PROGRESS_INTERVAL", "0")  # a plain line per step: the output is not a terminal
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 1)).astype(np.float32) for n in (5, 9, 7, 6)]
    clf = RNNClassifier(hidden_size=4, epochs=1, batch_size=4, conv_branch=False, validation_fraction=0.0,
                        verbose=True).fit(X, ["a", "b", "a", "b"])
    lines = [x for x in capsys.readouterr().err.splitlines() if "step 1/1" in x]
    # a classifier's loss averages over sequences: its rate counts them (4 in the one batch), not tokens
    assert lines and " seq/s" in lines[0] and "tok/s" not in lines[0]
    assert [r["items"] for r in clf.history_ if r["kind"] == "train"] == [4]
    RNNTagger(hidden_size=4, epochs=1, batch_size=4, validation_fraction=0.0,
              verbose=True).fit([["a", "b"], ["b", "c", "a"]], [["x", "y"], ["y", "x", "x"]])
    lines = [x for x in capsys.readouterr().err.splitlines() if "step 1/1" in x]
    assert lines and " tok/s" in lines[0]  # a tagger's: its labelled tokens
