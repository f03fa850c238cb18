"""Models in checkpoints: class name and config beside the weights, rebuilt without code."""

from __future__ import annotations

from torch import nn

from rnnkit.errors import CheckpointError
from rnnkit.models import MODELS
from rnnkit.training.checkpoint import Checkpoint

PREFIX = "model/"


def put_model(ck: Checkpoint, model: nn.Module) -> None:
    """Store ``model``'s class, config and weights in ``ck``.

    Tied parameters (one tensor under two names) are stored once per name as copies,
    since safetensors refuses shared memory; loading ties them again.
    """
    name = type(model).__name__
    if name not in MODELS:
        raise TypeError(f"{name} is not a registered rnnkit model")
    ck.meta["model"] = {"class": name, "config": model.config.to_dict()}
    seen: set[int] = set()
    for key, tensor in model.state_dict().items():
        t = tensor.detach()
        ptr = t.data_ptr()
        ck.tensors[PREFIX + key] = t.clone() if ptr in seen else t
        seen.add(ptr)


def build_model(ck: Checkpoint, path: str = "checkpoint") -> nn.Module:
    """The model described by ``ck``, with its weights loaded, in eval mode."""
    entry = ck.meta.get("model")
    if not entry or entry.get("class") not in MODELS:
        raise CheckpointError(f"{path} holds no rnnkit model")
    model_cls, config_cls = MODELS[entry["class"]]
    try:
        model = model_cls(config_cls(**entry["config"]))
    except TypeError as e:
        raise CheckpointError(f"{path}: model config does not fit this rnnkit version ({e})") from None
    weights = {k[len(PREFIX):]: v for k, v in ck.tensors.items() if k.startswith(PREFIX)}
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not match the model config ({str(e).splitlines()[0]})") from None
    return model.eval()
