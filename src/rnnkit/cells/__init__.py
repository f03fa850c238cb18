"""One time step of a recurrent network: Elman, LSTM and GRU cells."""

from rnnkit.cells.base import FusableCell, RecurrentCell, State
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.rnn import ElmanCell
from rnnkit.errors import ConfigError

__all__ = ["RecurrentCell", "FusableCell", "State", "ElmanCell", "LSTMCell", "GRUCell", "make_cell", "CELL_TYPES"]

#: Names accepted wherever a cell type is chosen by string (configs, the CLI).
CELL_TYPES = ("lstm", "gru", "rnn_tanh", "rnn_relu")


def make_cell(cell_type: str, input_size: int, hidden_size: int, bias: bool = True, **kwargs) -> FusableCell:
    """Build a built-in cell from its name: ``lstm``, ``gru``, ``rnn_tanh`` (alias ``elman``/``rnn``), ``rnn_relu``."""
    name = cell_type.lower()
    if name == "lstm":
        return LSTMCell(input_size, hidden_size, bias, **kwargs)
    if name == "gru":
        return GRUCell(input_size, hidden_size, bias)
    if name in ("rnn_tanh", "rnn", "elman", "tanh"):
        return ElmanCell(input_size, hidden_size, bias, nonlinearity="tanh")
    if name in ("rnn_relu", "relu"):
        return ElmanCell(input_size, hidden_size, bias, nonlinearity="relu")
    raise ConfigError(f"unknown cell type {cell_type!r}; choose one of {', '.join(CELL_TYPES)}")
