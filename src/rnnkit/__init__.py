"""rnnkit: recurrent neural networks (Elman, LSTM, GRU) from raw sequences to usable models.

The package is layered, each layer importing only those before it::

    cells -> layers -> models -> training -> tasks -> cli

Importing ``rnnkit`` loads torch but none of the optional extras (matplotlib, pandas).
"""

from rnnkit._version import __version__
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell, RecurrentCell
from rnnkit.errors import CheckpointError, ConfigError, DataError, RnnkitError
from rnnkit.layers import Recurrent
from rnnkit.tasks import ESTIMATORS as _ESTIMATORS

__all__ = ["__version__", "ElmanCell", "LSTMCell", "GRUCell", "RecurrentCell", "Recurrent", *_ESTIMATORS,
           "RnnkitError", "DataError", "ConfigError", "CheckpointError"]


def __getattr__(name: str):
    # The estimators pull in the trainer and data readers; load them only when asked for.
    if name in _ESTIMATORS:
        import importlib

        return getattr(importlib.import_module(_ESTIMATORS[name]), name)
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
