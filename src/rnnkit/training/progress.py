"""The training display: a rich progress bar per epoch and a line per validation."""

from __future__ import annotations

import os
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

#: seconds between plain progress lines when the output is not a terminal
PLAIN_INTERVAL = 30.0


def rate(per_second: float, unit: str) -> str:
    """``12.3k tok/s``, ``45 windows/s``, ``2.5 utt/s``: three significant figures at most."""
    if per_second >= 1000:
        return f"{per_second / 1000:.1f}k {unit}/s"
    return f"{per_second:.0f} {unit}/s" if per_second >= 10 else f"{per_second:.1f} {unit}/s"


class TrainingProgress:
    """Progress bar with loss, derived metrics (perplexity, bits/char), items/s and ETA."""

    def __init__(self, enabled: bool, total_epochs: int, steps_per_epoch: int, evaluated_on: str = "valid",
                 item_unit: str = "tok") -> None:
        self.enabled = enabled
        self.item_unit = item_unit  # what the task's items are: tokens, time steps, windows, utterances
        # without held-out data the epoch is chosen by its loss on the training data: say so
        self.label = "valid" if evaluated_on == "valid" else "training-data (no held-out data)"
        self.total_epochs = total_epochs
        self.steps_per_epoch = steps_per_epoch
        self.console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(bar_width=16), MofNCompleteColumn(), TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            console=self.console, disable=not enabled, transient=False,
        )
        self._task: TaskID | None = None
        # Logged to a file rather than a terminal, a progress bar shows nothing: write a plain
        # line every PLAIN_INTERVAL seconds instead ($RNNKIT_PROGRESS_INTERVAL).
        self.plain = enabled and not self.console.is_terminal
        self.interval = float(os.environ.get("RNNKIT_PROGRESS_INTERVAL", PLAIN_INTERVAL))
        self._last_plain = time.monotonic()
        self._epoch = 0
        self._done = 0

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    def start_epoch(self, epoch: int, done: int) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task("train", total=self.steps_per_epoch, completed=done,
                                             epoch=epoch + 1, epochs=self.total_epochs, stats="")
        self._epoch, self._done = epoch, done

    def update(self, record: dict, derived: dict) -> None:
        parts = [f"loss {record['loss']:.3f}"] + [f"{k} {v:.2f}" for k, v in derived.items()]
        parts += [f"|g| {record['grad_norm']:.2f}", rate(record["items_per_s"], self.item_unit)]
        if self._task is not None:
            self._progress.update(self._task, advance=1, stats="  ".join(parts))
        self._done += 1
        if self.plain and time.monotonic() - self._last_plain >= self.interval:
            self._last_plain = time.monotonic()
            self.print(f"epoch {self._epoch + 1}/{self.total_epochs} step {self._done}/{self.steps_per_epoch}  "
                       + "  ".join(parts))

    def end_epoch(self, epoch: int, record: dict, improved: bool) -> None:
        metrics = "  ".join(f"{k} {v:.4f}" for k, v in record.items()
                            if k not in ("kind", "step", "epoch") and isinstance(v, float))
        where = f"epoch {record['epoch']:.2f}" if record["epoch"] % 1 else f"epoch {epoch + 1}"
        self.print(f"{where}: {self.label} {metrics}" + ("  (best so far)" if improved else ""))

    def print(self, text: str) -> None:
        if self.enabled:
            self._progress.console.print(text, highlight=False, markup=False)
