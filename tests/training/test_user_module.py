"""A user's own nn.Module trains, checkpoints and resumes through the Trainer (no registration,
no pickle); the task protocol is checked up front; callbacks get named events."""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from rnnkit.data.sequences import IndexedBatches
from rnnkit.errors import CheckpointError
from rnnkit.training import Callback, Trainer, TrainerConfig, TrainingTask, build_model, load_checkpoint
from rnnkit.training.optim import OptimConfig


@dataclass
class SumNetConfig:
    hidden: int = 8


class SumNet(nn.Module):
    """Reads a sequence with a GRU and predicts its sum (a dataclass config)."""

    def __init__(self, config: SumNetConfig) -> None:
        super().__init__()
        self.config = config
        self.rnn = nn.GRU(1, config.hidden, batch_first=True)
        self.head = nn.Linear(config.hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1]).squeeze(-1)


class SumNetKw(SumNet):
    """The same with a dict of __init__ arguments as its config."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__(SumNetConfig(hidden))
        self.config = {"hidden": hidden}


class Batches(IndexedBatches):
    def __init__(self, x, y, batch_size, seed=0):
        self.x, self.y, self.batch_size, self.shuffle, self.seed, self.n_items = x, y, batch_size, True, seed, len(x)

    def batch(self, idx):
        return self.x[idx], self.y[idx]


class SumTask:
    carries_state = False

    def __init__(self, model, n=64, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.model = model
        self.x = torch.rand(n, 5, 1, generator=g)
        self.y = self.x.sum((1, 2))
        self.batches = Batches(self.x, self.y, 16)

    def train_batches(self, epoch):
        return self.batches.for_epoch(epoch)

    def train_step(self, model, batch, state):
        x, y = batch
        return nn.functional.mse_loss(model(x), y), None, len(y)

    @torch.no_grad()
    def evaluate(self, model, split):
        return {"loss": float(nn.functional.mse_loss(model(self.x), self.y))}

    def describe(self, loss):
        return {}

    def meta(self):
        return {"task": "sum"}


def config(epochs=4):
    return TrainerConfig(epochs=epochs, optim=OptimConfig(optimizer="adam", lr=1e-2), checkpoint_every=0,
                         device="cpu", progress=False, sample_every=0, log_every=1)


@pytest.mark.parametrize("make", [lambda: SumNet(SumNetConfig(8)), lambda: SumNetKw(hidden=8)])
def test_user_module_trains_checkpoints_and_resumes(tmp_path, make):
    torch.manual_seed(0)
    task = SumTask(make())
    assert isinstance(task, TrainingTask)
    first_loss = task.evaluate(task.model, "valid")["loss"]
    result = Trainer(task, config(), tmp_path / "run").fit()
    assert result.best_valid_loss < first_loss / 2  # it learns

    rebuilt = build_model(load_checkpoint(result.last_checkpoint))  # last == the model as training left it
    assert type(rebuilt) is type(task.model) and rebuilt.config == task.model.config
    with torch.no_grad():
        assert torch.equal(rebuilt(task.x), task.model.eval()(task.x))

    # resume exactly: 2 epochs, then 2 more == 4 in one go
    torch.manual_seed(0)
    split = SumTask(make())
    Trainer(split, config(epochs=2), tmp_path / "split").fit()
    torch.manual_seed(0)
    resumed = SumTask(make())
    Trainer(resumed, config(epochs=4), tmp_path / "split").fit(resume=True)
    for a, b in zip(resumed.model.state_dict().values(), task.model.state_dict().values()):
        assert torch.equal(a, b)


def test_module_without_config_is_refused_when_saved(tmp_path):
    class Bare(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(1, 1)

        def forward(self, x):
            return self.lin(x[:, -1]).squeeze(-1)

    with pytest.raises(TypeError, match="give it a `config` attribute"):
        Trainer(SumTask(Bare()), config(1), tmp_path).fit()


def test_unimportable_class_is_a_one_line_checkpoint_error(tmp_path):
    result = Trainer(SumTask(SumNet(SumNetConfig(4))), config(1), tmp_path).fit()
    ck = load_checkpoint(result.best_checkpoint)
    ck.meta["model"]["class_path"] = "no_such_package.models:Net"
    with pytest.raises(CheckpointError, match="cannot be imported here"):
        build_model(ck)
    ck.meta["model"]["class_path"] = "builtins:dict"
    with pytest.raises(CheckpointError, match="is not a torch.nn.Module"):
        build_model(ck)


def test_task_protocol_is_checked_up_front(tmp_path):
    class Half:
        model = nn.Linear(1, 1)
        carries_state = False

        def train_batches(self, epoch):
            return []

    with pytest.raises(TypeError, match="lacks train_step, evaluate, describe, meta"):
        Trainer(Half(), config(1), tmp_path)


def test_named_callback_events(tmp_path):
    events = []

    class Recorder(Callback):
        def on_fit_start(self, trainer):
            events.append("start")

        def on_step(self, trainer, record):
            events.append("step")

        def on_validation(self, trainer, record):
            events.append(("valid", round(record["epoch"])))

        def on_epoch_end(self, trainer, record):
            events.append("epoch")

        def on_fit_end(self, trainer, result):
            events.append(("end", result.stopped_because))

    steps = []
    Trainer(SumTask(SumNet(SumNetConfig(4))), config(2), tmp_path,
            callbacks=[Recorder(), lambda trainer, record: steps.append(record["step"])]).fit()
    per_epoch = ["step"] * 4 + [("valid", 1), "epoch"]
    assert events == ["start", *per_epoch, *[e if e != ("valid", 1) else ("valid", 2) for e in per_epoch],
                      ("end", "completed")]
    assert steps == list(range(1, 9))  # a plain function is called at every step
