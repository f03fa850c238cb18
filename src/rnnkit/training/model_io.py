"""Models in checkpoints: how to rebuild the module beside its weights, rebuilt without pickle.

A checkpoint's ``"model"`` entry says how to construct the module again, then the weights
are loaded into it:

* an rnnkit model (registered in :data:`rnnkit.models.MODELS`): ``{"class": name, "config":
  {...}}`` -> ``Model(ModelConfig(**config))``;
* any other ``nn.Module`` (a user's own): ``{"class_path": "package.module:Class", "config":
  {...}}`` and, when ``model.config`` is a dataclass, ``"config_class_path"`` too. Rebuilt as
  ``Class(ConfigClass(**config))`` for a dataclass config, ``Class(**config)`` for a dict.
  The module must be importable where the checkpoint is loaded (as for ``torch.save`` of a
  whole model), and the class must be an ``nn.Module``; nothing but JSON is read.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from typing import Any

import torch
from torch import nn

from rnnkit._version import __version__
from rnnkit.errors import CheckpointError
from rnnkit.models import MODELS
from rnnkit.training.checkpoint import Checkpoint

PREFIX = "model/"


def class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class(path: str, where: str = "checkpoint") -> type:
    """``"package.module:Outer.Inner"`` -> the class; a one-line :class:`CheckpointError` if absent."""
    module_name, _, qualname = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError):
        raise CheckpointError(f"{where} needs the class {path}, which cannot be imported here") from None
    if not isinstance(obj, type):
        raise CheckpointError(f"{where}: {path} is not a class")
    return obj


def model_entry(model: nn.Module) -> dict[str, Any]:
    """The JSON entry from which :func:`build_model` constructs ``model`` again."""
    name = type(model).__name__
    config = getattr(model, "config", None)
    if name in MODELS and type(model) is MODELS[name][0]:
        return {"class": name, "config": config.to_dict()}  # type: ignore[union-attr]
    entry: dict[str, Any] = {"class_path": class_path(type(model))}
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        entry["config_class_path"] = class_path(type(config))
        entry["config"] = dataclasses.asdict(config)
    elif isinstance(config, dict):
        entry["config"] = config
    else:
        raise TypeError(f"{name} cannot be checkpointed: give it a `config` attribute, a dataclass (the model "
                        f"is rebuilt as {name}(config)) or a dict of its __init__ arguments ({name}(**config))")
    try:
        json.dumps(entry["config"])
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name}.config must hold JSON values only ({e})") from None
    return entry


def put_model(ck: Checkpoint, model: nn.Module) -> None:
    """Store how to rebuild ``model`` and its weights in ``ck``.

    Tied parameters (one tensor under two names) are stored once per name as copies,
    since safetensors refuses shared memory; loading ties them again.
    """
    ck.meta["model"] = model_entry(model)
    seen: set[int] = set()
    for key, tensor in model.state_dict().items():
        t = tensor.detach()
        ptr = t.data_ptr()
        ck.tensors[PREFIX + key] = t.clone() if ptr in seen else t
        seen.add(ptr)


def _construct(entry: dict[str, Any], path: str) -> nn.Module:
    config = entry.get("config")
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: the model config is not a JSON object")
    if "class" in entry:
        if entry["class"] not in MODELS:
            raise CheckpointError(f"{path} holds an unknown model {entry['class']!r}")
        model_cls, config_cls = MODELS[entry["class"]]
        return model_cls(config_cls(**config))
    cls = import_class(str(entry["class_path"]), path)
    if not issubclass(cls, nn.Module):
        raise CheckpointError(f"{path}: {entry['class_path']} is not a torch.nn.Module")
    if "config_class_path" in entry:
        config_cls = import_class(str(entry["config_class_path"]), path)
        if not dataclasses.is_dataclass(config_cls):
            raise CheckpointError(f"{path}: {entry['config_class_path']} is not a dataclass")
        return cls(config_cls(**config))
    return cls(**config)


def build_model(ck: Checkpoint, path: str = "checkpoint") -> nn.Module:
    """The model described by ``ck``, with its weights loaded, in eval mode.

    The config in a checkpoint is not trusted: the model is first built on torch's ``meta``
    device (shapes, no memory), and its parameter shapes must equal those of the stored
    tensors before it is built for real, so a config declaring a huge model costs nothing.
    """
    entry = ck.meta.get("model")
    if not isinstance(entry, dict) or not ({"class", "class_path"} & entry.keys()):
        raise CheckpointError(f"{path} holds no model")
    weights = {k[len(PREFIX):]: v for k, v in ck.tensors.items() if k.startswith(PREFIX)}
    try:
        with torch.device("meta"):
            shapes = {k: tuple(t.shape) for k, t in _construct(entry, path).state_dict().items()}
    except TypeError as e:
        raise CheckpointError(f"{path} ({ck.origin()}): its model config does not fit rnnkit {__version__} "
                              f"({e})") from None
    except (ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path} ({ck.origin()}): its model config is invalid ({e})") from None
    stored = {k: tuple(t.shape) for k, t in weights.items()}
    if shapes != stored:
        diff = sorted(set(shapes) ^ set(stored)) or [k for k in shapes if shapes[k] != stored[k]]
        name = diff[0]
        raise CheckpointError(f"{path} ({ck.origin()}): its model config does not match its weights ({name}: "
                              f"config {shapes.get(name, 'absent')}, stored {stored.get(name, 'absent')})")
    try:
        model = _construct(entry, path)
    except TypeError as e:
        raise CheckpointError(f"{path} ({ck.origin()}): its model config does not fit rnnkit {__version__} "
                              f"({e})") from None
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"{path} ({ck.origin()}): weights do not match the model config "
                              f"({str(e).splitlines()[0]})") from None
    return model.eval()


__all__ = ["PREFIX", "put_model", "build_model", "model_entry", "import_class", "class_path"]
