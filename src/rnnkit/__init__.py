"""rnnkit: recurrent neural networks (Elman, LSTM, GRU) from raw sequences to usable models.

The package is layered, each layer importing only those before it::

    cells -> layers -> models -> training -> tasks -> cli

Importing ``rnnkit`` loads nothing heavy: the cells, the layer and the estimators (and with
them torch) load on first use, so ``rnnkit --help`` starts in a fraction of a second.
"""

from typing import TYPE_CHECKING

from rnnkit._version import __version__
from rnnkit.errors import CheckpointError, ConfigError, DataError, RnnkitError
from rnnkit.tasks import ESTIMATORS as _ESTIMATORS

_LAZY = {"ElmanCell": "rnnkit.cells", "GRUCell": "rnnkit.cells", "LSTMCell": "rnnkit.cells",
         "RecurrentCell": "rnnkit.cells", "Recurrent": "rnnkit.layers", "tune": "rnnkit.tasks.tune", **_ESTIMATORS}

__all__ = ["__version__", "ElmanCell", "LSTMCell", "GRUCell", "RecurrentCell", "Recurrent", "tune", *_ESTIMATORS,
           "RnnkitError", "DataError", "ConfigError", "CheckpointError"]

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from rnnkit.cells import ElmanCell, GRUCell, LSTMCell, RecurrentCell  # noqa: F401
    from rnnkit.layers import Recurrent  # noqa: F401


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
