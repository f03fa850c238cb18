"""Data-parallel training across processes (``torchrun``), as DistributedDataParallel does it.

Started by ``torchrun --nproc-per-node N -m rnnkit ... train ...`` (or ``--nnodes`` with a
rendezvous endpoint), each process reads ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` from its
environment and joins one process group: gloo on the CPU, NCCL on CUDA. Then:

* every rank builds the same batches in the same order (they depend only on the seed and
  the epoch) and takes its own contiguous slice of each along the batch dimension
  (:func:`shard`): rank ``r`` of ``N`` gets rows ``[lo_r, hi_r)`` of ``B``, sizes as even as
  ``numpy.array_split`` makes them. The ranks' slices together are exactly the one-process
  batch, so for truncated-BPTT streams rank ``r`` carries the state of its own streams;
* after ``backward`` the gradients are averaged with one all-reduce, each rank's weighted by
  the items (tokens, examples) it saw: with ``L_r`` the mean loss over ``n_r`` items,
  ``g = sum_r n_r * grad(L_r) / sum_r n_r``, the gradient of the one-process mean loss.
  The same reduction carries the loss for the log and a stop flag, so every rank stops at
  the same step (a time budget, Ctrl-C on one rank);
* parameters start equal (broadcast from rank 0, as DDP does at construction) and stay equal:
  every rank applies the same reduced gradient with the same optimizer;
* rank 0 alone validates, writes checkpoints, metrics and plots, and broadcasts what it
  decides (the validation result, early stopping);
* a checkpoint holds the carried state of all streams (gathered), so a run resumes with any
  number of ranks, each taking its slice.

Why not wrap the model in ``torch.nn.parallel.DistributedDataParallel``: tasks call model
methods besides ``forward`` (``loss``, ``step_nll``, ``point``), which DDP's wrapper does
not route through its hooks; one reduction after ``backward`` gives the same gradients
(DDP overlaps it with backward in buckets, which matters little for recurrent models, whose
backward is sequential in time).
"""

from __future__ import annotations

import datetime
import os
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError

T = TypeVar("T")


class DistributedError(RnnkitError):
    """Another rank failed or left; the run ends on every rank (the last checkpoint is kept)."""


@dataclass(frozen=True)
class Ranks:
    """This process's place: ``rank`` of ``world`` (``world == 1``: one process, no group)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def primary(self) -> bool:
        return self.rank == 0


def env_ranks() -> Ranks:
    """What ``torchrun`` put in the environment (one process when it did not run us)."""
    try:
        return Ranks(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                     int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError:
        raise DistributedError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)") from None


def is_primary() -> bool:
    """True on rank 0, and in a process that torchrun did not start."""
    return env_ranks().rank == 0


#: how long a collective waits for a rank that does not answer (a hung peer) before failing
TIMEOUT = datetime.timedelta(seconds=int(os.environ.get("RNNKIT_DIST_TIMEOUT", 1800)))


def setup(device: torch.device | None = None) -> Ranks:
    """Join the process group torchrun prepared (idempotent); returns this process's place.

    The backend: gloo on a machine without CUDA; with CUDA, NCCL for CUDA tensors (each rank
    on ``cuda:LOCAL_RANK``) and gloo for CPU ones. A single process (no ``WORLD_SIZE`` > 1) joins nothing."""
    ranks = env_ranks()
    if not ranks.active:
        return ranks
    import torch.distributed as dist

    if not dist.is_available():
        raise DistributedError("this torch was built without torch.distributed")
    if not dist.is_initialized():
        # gloo for CPU tensors (and the pickled objects of broadcasts), NCCL for CUDA ones
        backend = "gloo"
        if torch.cuda.is_available() and (device is None or device.type == "cuda"):
            backend = "cpu:gloo,cuda:nccl"
            torch.cuda.set_device(ranks.local_rank)
        try:
            dist.init_process_group(backend=backend, timeout=TIMEOUT)
        except (RuntimeError, ValueError) as e:
            raise DistributedError(f"could not join the process group of {ranks.world} ranks: "
                                   f"{str(e).splitlines()[0]}") from None
    return ranks


def rank_device(device: torch.device, ranks: Ranks) -> torch.device:
    """``cuda`` means this rank's own GPU (``cuda:LOCAL_RANK``) under torchrun."""
    if ranks.active and device.type == "cuda" and device.index is None:
        return torch.device("cuda", ranks.local_rank)
    return device


def _collective(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Turn a peer's failure inside a collective into one :class:`DistributedError` line."""
    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        def wrapper(*args: Any, **kwargs: Any) -> T:
            try:
                return fn(*args, **kwargs)
            except RuntimeError as e:  # gloo/NCCL: a peer closed its connection or timed out
                raise DistributedError(f"another rank failed or left during {what} ({_gist(e)})") from None
        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        return wrapper
    return decorate


def _gist(e: Exception) -> str:
    """The backend's message without its source location and advice: "Connection closed by peer"."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)  # "[.../gloo/transport/tcp/pair.cc:553] "
    return text.split(". ")[0].rstrip(".")


# ---------------------------------------------------------------------------- sharding
def slice_bounds(batch_size: int, ranks: Ranks) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of a batch of ``batch_size`` that ``ranks.rank`` takes."""
    sizes = [len(part) for part in np.array_split(np.arange(batch_size), ranks.world)]
    lo = sum(sizes[: ranks.rank])
    return lo, lo + sizes[ranks.rank]


def batch_size_of(batch: Any) -> int | None:
    """The leading size of the first tensor in ``batch`` (tuples, lists, dicts, named tuples)."""
    if isinstance(batch, Tensor):
        return int(batch.shape[0]) if batch.dim() else None
    if isinstance(batch, dict):
        batch = list(batch.values())
    if isinstance(batch, (tuple, list)):
        for item in batch:
            size = batch_size_of(item)
            if size is not None:
                return size
    return None


def shard(batch: Any, ranks: Ranks) -> tuple[Any, int]:
    """``(this rank's slice of batch, its rows)``: every tensor whose leading size is the
    batch size is cut to rows ``slice_bounds``; other values are kept. Batches are batch
    first in every rnnkit task; a task of one's own can define ``shard_batch(batch, rank,
    world)`` instead."""
    size = batch_size_of(batch)
    if not ranks.active:
        return batch, size or 0
    if size is None:
        raise DistributedError("a batch without tensors cannot be split between ranks; give the task a "
                               "shard_batch(batch, rank, world) method")
    lo, hi = slice_bounds(size, ranks)

    def cut(x: Any) -> Any:
        if isinstance(x, Tensor):
            return x[lo:hi] if x.dim() and x.shape[0] == size else x
        if isinstance(x, tuple) and hasattr(x, "_fields"):  # a named tuple (Batch, PairBatch, ...)
            return type(x)(*(cut(v) for v in x))
        if isinstance(x, (tuple, list)):
            return type(x)(cut(v) for v in x)
        if isinstance(x, dict):
            return {k: cut(v) for k, v in x.items()}
        if isinstance(x, np.ndarray) and x.ndim and x.shape[0] == size:
            return x[lo:hi]
        return x

    return cut(batch), hi - lo


def state_slice(state: Any, ranks: Ranks, batch_dim: int = 1) -> Any:
    """This rank's rows of a carried state of all streams (``(layers, B, H)`` tensors)."""
    if state is None or not ranks.active:
        return state
    if isinstance(state, Tensor):
        lo, hi = slice_bounds(state.shape[batch_dim], ranks)
        return state.narrow(batch_dim, lo, hi - lo)
    return tuple(state_slice(s, ranks, batch_dim) for s in state)


@_collective("gathering the carried state")
def gather_state(state: Any, ranks: Ranks, batch_dim: int = 1) -> Any:
    """Every rank's carried state joined along the batch (the inverse of :func:`state_slice`);
    the same value on every rank."""
    if not ranks.active:
        return state
    import torch.distributed as dist

    cpu = None if state is None else _map(state, lambda t: t.detach().cpu())
    parts: list[Any] = [None] * ranks.world
    dist.all_gather_object(parts, cpu)
    if any(p is None for p in parts):
        return None
    return _join(parts, batch_dim)


def _map(state: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    return fn(state) if isinstance(state, Tensor) else tuple(_map(s, fn) for s in state)


def _join(parts: list[Any], batch_dim: int) -> Any:
    if isinstance(parts[0], Tensor):
        return torch.cat(parts, batch_dim)
    return tuple(_join([p[i] for p in parts], batch_dim) for i in range(len(parts[0])))


# ---------------------------------------------------------------------------- reductions
@_collective("the gradient all-reduce")
def reduce_step(model: nn.Module, loss: float, items: int, stop: int, ranks: Ranks) -> tuple[float, int, int]:
    """Average the gradients over ranks weighted by items, in one all-reduce that also
    carries the loss (for the log) and the largest stop code (in a second, tiny one); returns ``(mean loss over all
    items, all items, stop code)``. A parameter without a gradient on a rank counts as zero there; one
    that no rank used keeps ``grad = None``, as in one process."""
    if not ranks.active:
        return loss, items, stop
    import torch.distributed as dist

    params = [p for p in model.parameters() if p.requires_grad]
    device = params[0].device if params else torch.device("cpu")
    grads = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
    has_grad = [float(p.grad is not None) for p in params]  # a parameter no rank used keeps no gradient
    flat = torch.cat([*(g.float() * items for g in grads),
                      torch.tensor([*has_grad, loss * items, float(items)], dtype=torch.float32, device=device)])
    stop_t = torch.tensor([stop], dtype=torch.int64, device=device)
    dist.all_reduce(flat)
    dist.all_reduce(stop_t, op=dist.ReduceOp.MAX)
    total = float(flat[-1])
    scale = 1.0 / total if total > 0 else 0.0
    used = flat[-2 - len(params):-2] if params else flat[:0]
    offset = 0
    for i, p in enumerate(params):
        n = p.numel()
        p.grad = (flat[offset:offset + n] * scale).view_as(p).to(p.dtype) if used[i] > 0 else None
        offset += n
    mean_loss = float(flat[-2]) * scale if total > 0 else float("nan")
    return mean_loss, int(round(total)), int(stop_t.item())


@_collective("agreeing to stop")
def max_code(code: int, ranks: Ranks) -> int:
    """The largest of every rank's ``code``."""
    if not ranks.active:
        return code
    import torch.distributed as dist

    t = torch.tensor([code], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


@_collective("broadcasting the parameters")
def broadcast_module(model: nn.Module, ranks: Ranks) -> None:
    """Rank 0's parameters and buffers on every rank (DDP's start)."""
    if not ranks.active:
        return
    import torch.distributed as dist

    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            dist.broadcast(t.data, src=0)


@_collective("a broadcast from rank 0")
def broadcast_object(obj: T, ranks: Ranks) -> T:
    """Rank 0's ``obj`` on every rank (any picklable value)."""
    if not ranks.active:
        return obj
    import torch.distributed as dist

    box = [obj if ranks.primary else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[return-value]


@_collective("waiting for the other ranks")
def barrier(ranks: Ranks) -> None:
    if ranks.active:
        import torch.distributed as dist

        dist.barrier()


def on_primary(fn: Callable[[], T], ranks: Ranks) -> T:
    """Run ``fn`` on rank 0 and give every rank its result, or raise its error on every rank
    (so a refused run folder, say, stops all ranks with the same message, none hanging)."""
    if not ranks.active:
        return fn()
    outcome: tuple[str, Any]
    if ranks.primary:
        try:
            outcome = ("ok", fn())
        except Exception as e:  # noqa: BLE001 -- re-raised below, on every rank
            outcome = ("error", e)
    else:
        outcome = ("pending", None)
    try:
        pickle.dumps(outcome)
    except Exception:  # noqa: BLE001 -- an unpicklable error travels as its message
        outcome = ("error", RnnkitError(str(outcome[1])))
    kind, value = broadcast_object(outcome, ranks)
    if kind == "error":
        raise value
    return value


#: set by the command line: under torchrun the ranks other than 0 end a ``train`` command when
#: training ends (its test report, plots and messages are rank 0's alone)
SECONDARY_RANKS_END_AFTER_FIT = False


class SecondaryRankDone(Exception):
    """Raised on ranks other than 0 when training ends under the command line (see above)."""


def finish_fit(ranks: Ranks) -> None:
    """The end of a fit: a secondary rank of a command stops here."""
    if ranks.active and not ranks.primary and SECONDARY_RANKS_END_AFTER_FIT:
        raise SecondaryRankDone


def end_secondary_ranks_after_fit(on: bool = True) -> None:
    """The command line's mode: see :data:`SECONDARY_RANKS_END_AFTER_FIT`."""
    global SECONDARY_RANKS_END_AFTER_FIT
    SECONDARY_RANKS_END_AFTER_FIT = on


def leave_process_group() -> None:
    """Leave the process group (the end of a command run under torchrun)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


__all__ = ["Ranks", "DistributedError", "env_ranks", "is_primary", "setup", "rank_device", "shard", "slice_bounds",
           "state_slice", "gather_state", "reduce_step", "max_code", "broadcast_module", "broadcast_object", "barrier",
           "on_primary", "leave_process_group", "finish_fit", "SecondaryRankDone", "SECONDARY_RANKS_END_AFTER_FIT",
           "end_secondary_ranks_after_fit"]
