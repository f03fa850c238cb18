"""Whole sequences: the ``Recurrent`` layer, attention and recurrent dropout."""

from rnnkit.layers.dropout import LockedDropout, drop_connect, embedding_dropout, locked_dropout
from rnnkit.layers.recurrent import CellSpec, Recurrent, TorchState

__all__ = ["Recurrent", "CellSpec", "TorchState", "LockedDropout", "locked_dropout", "drop_connect",
           "embedding_dropout"]
