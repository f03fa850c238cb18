"""One self-describing checkpoint file: JSON metadata + tensors, in the safetensors format.

Layout of a checkpoint file (a valid ``.safetensors`` file any safetensors reader opens):

* tensors: model weights under ``model/...``, and any other tensor state (optimizer
  moments under ``optimizer/...``, the torch RNG state, ...), flattened to string keys;
* metadata ``{"format": "rnnkit", "version": "1", "rnnkit": <the rnnkit version that wrote it>,
  "meta": <JSON>}`` where the JSON holds the
  model class and config, vocabulary or scaler, step, metrics, and the non-tensor parts of
  nested states, with ``{"__tensor__": key}`` markers where tensors were.

Nothing is pickled, so loading a checkpoint cannot run code. Files are written
atomically: to a temporary file in the same folder, flushed and fsync'ed, then renamed
over the target, so a crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file as st_load_file
from safetensors.torch import save as st_save

from rnnkit._version import __version__
from rnnkit.errors import CheckpointError
from rnnkit.outputs import atomic_write_bytes, remove_orphaned_temporaries
from rnnkit.training.checkpoint_header import FORMAT, FORMAT_VERSION
from rnnkit.training.checkpoint_header import header_bytes as _header_bytes
from rnnkit.training.checkpoint_header import read_metadata as _read_metadata


@dataclass
class Checkpoint:
    """What a checkpoint holds: JSON-able ``meta`` and a flat ``tensors`` mapping."""

    meta: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    written_by: str | None = None  # the rnnkit version that wrote the file (None: before it was recorded)

    def origin(self) -> str:
        """How errors name the writer: ``"written by rnnkit 0.1.0"``."""
        return f"written by rnnkit {self.written_by}" if self.written_by else "written by an earlier rnnkit"

    def state(self, name: str) -> Any:
        """Rebuild a nested state (e.g. an optimizer ``state_dict``) stored with :meth:`put_state`."""
        if name not in self.meta.get("states", {}):
            raise CheckpointError(f"checkpoint has no {name!r} state")
        return unflatten_state(self.meta["states"][name], self.tensors)

    def put_state(self, name: str, obj: Any) -> None:
        """Store a nested structure of dicts/lists/tensors/numbers under ``name``."""
        skeleton, tensors = flatten_state(obj, prefix=f"{name}/")
        self.meta.setdefault("states", {})[name] = skeleton
        self.tensors.update(tensors)

    def has_state(self, name: str) -> bool:
        return name in self.meta.get("states", {})


def flatten_state(obj: Any, prefix: str = "") -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a nested structure into a JSON-able skeleton and a flat ``{key: tensor}`` dict.

    Tensors become ``{"__tensor__": key}``, numpy arrays ``{"__ndarray__": key}``, tuples
    ``{"__tuple__": [...]}`` and dicts with non-string keys ``{"__items__": [[k, v], ...]}``.
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(x: Any, path: str) -> Any:
        if isinstance(x, torch.Tensor):
            tensors[prefix + path] = x.detach().cpu().contiguous()
            return {"__tensor__": prefix + path}
        if isinstance(x, np.ndarray):
            tensors[prefix + path] = torch.from_numpy(np.ascontiguousarray(x))
            return {"__ndarray__": prefix + path}
        if isinstance(x, dict):
            if all(isinstance(k, str) for k in x):
                return {k: walk(v, f"{path}{k}/") for k, v in x.items()}
            return {"__items__": [[k, walk(v, f"{path}{i}/")] for i, (k, v) in enumerate(x.items())]}
        if isinstance(x, tuple):
            return {"__tuple__": [walk(v, f"{path}{i}/") for i, v in enumerate(x)]}
        if isinstance(x, list):
            return [walk(v, f"{path}{i}/") for i, v in enumerate(x)]
        if isinstance(x, (np.integer, np.floating)):
            return x.item()
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        raise TypeError(f"cannot store {type(x).__name__} at {prefix + path!r} in a checkpoint")

    return walk(obj, ""), tensors


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__ndarray__" in skeleton:
            return tensors[skeleton["__ndarray__"]].numpy()
        if "__tuple__" in skeleton:
            return tuple(unflatten_state(v, tensors) for v in skeleton["__tuple__"])
        if "__items__" in skeleton:
            return {k: unflatten_state(v, tensors) for k, v in skeleton["__items__"]}
        return {k: unflatten_state(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    return skeleton


def save_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Serialise ``checkpoint`` to ``path`` atomically; returns the path."""
    try:
        meta_json = json.dumps(checkpoint.meta, allow_nan=True)
    except TypeError as e:
        raise TypeError(f"checkpoint metadata is not JSON-serialisable: {e}") from e
    tensors = {k: v.detach().cpu().contiguous() for k, v in checkpoint.tensors.items()}
    data = st_save(tensors, metadata={"format": FORMAT, "version": FORMAT_VERSION, "rnnkit": __version__,
                                      "meta": meta_json})
    atomic_write_bytes(path, data)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, data: bytes | None = None) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; a clear ``CheckpointError`` otherwise.
    ``data``: the file's bytes, read elsewhere (another rank's copy); ``path`` then names it."""
    path = Path(path)
    if data is not None:
        return _from_bytes(path, data)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; give the checkpoint file inside it (e.g. {path}/best.safetensors)")
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")

    def unreadable(e: Exception) -> CheckpointError:
        return CheckpointError(f"{path} is not a readable rnnkit checkpoint (corrupt or truncated?): "
                               f"{str(e).splitlines()[0] if str(e) else type(e).__name__}")

    # The header first (a few KB): a file that is not an rnnkit checkpoint is refused before
    # its tensors are read; then the tensors straight from the file (no second in-memory copy).
    try:
        meta = _read_metadata(_header_bytes(path))
    except (ValueError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise unreadable(e) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not an rnnkit checkpoint")
    if meta.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {meta.get('version')}; "
                              f"this rnnkit reads version {FORMAT_VERSION}")
    try:
        body = json.loads(meta["meta"])
    except (KeyError, json.JSONDecodeError):
        raise CheckpointError(f"{path} has corrupt rnnkit metadata") from None
    try:
        tensors = st_load_file(str(path))
    except (SafetensorError, ValueError, OSError) as e:
        raise unreadable(e) from None
    return Checkpoint(meta=body, tensors=tensors, written_by=meta.get("rnnkit"))


def _from_bytes(path: Path, data: bytes) -> Checkpoint:
    from safetensors.torch import load as st_load

    try:
        meta = _read_metadata(data)
        body = json.loads(meta["meta"])
        tensors = st_load(data)
    except (ValueError, KeyError, UnicodeDecodeError, json.JSONDecodeError, SafetensorError) as e:
        raise CheckpointError(f"{path} is not a readable rnnkit checkpoint (corrupt or truncated?): "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not an rnnkit checkpoint of format version {FORMAT_VERSION}")
    return Checkpoint(meta=body, tensors=tensors, written_by=meta.get("rnnkit"))


def checkpoint_task(path: str | os.PathLike) -> str | None:
    """The task a checkpoint was written by (``"lm"``, ``"classify"``, ...), to pick its loader.

    Reads only the safetensors header, not the weights: the loader reads the file next."""
    path = Path(path)
    if path.is_dir() or not path.exists():
        return load_checkpoint(path).meta.get("task")  # the loader's own error message
    try:
        meta = _read_metadata(_header_bytes(path))
        return json.loads(meta["meta"]).get("task") if meta.get("format") == FORMAT else None
    except (ValueError, UnicodeDecodeError, KeyError, json.JSONDecodeError):
        return load_checkpoint(path).meta.get("task")  # corrupt: let the loader say how


__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "flatten_state", "unflatten_state",
           "atomic_write_bytes", "checkpoint_task", "remove_orphaned_temporaries", "CheckpointError"]
