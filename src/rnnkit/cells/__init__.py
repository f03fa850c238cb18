"""One time step of a recurrent network: Elman, LSTM and GRU cells, their classic variants
(peephole, layer-normalised), and the parallel-scan and exponential-gating cells (minGRU,
minLSTM, sLSTM, mLSTM)."""

from rnnkit.cells.base import FusableCell, RecurrentCell, State
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.lstm_variants import LayerNormLSTMCell, PeepholeLSTMCell
from rnnkit.cells.min_rnn import MinGRUCell, MinLSTMCell
from rnnkit.cells.rnn import ElmanCell
from rnnkit.cells.xlstm import MLSTMCell, SLSTMCell
from rnnkit.errors import ConfigError

__all__ = ["RecurrentCell", "FusableCell", "State", "ElmanCell", "LSTMCell", "GRUCell", "PeepholeLSTMCell",
           "LayerNormLSTMCell", "MinGRUCell", "MinLSTMCell", "SLSTMCell", "MLSTMCell", "make_cell", "CELL_TYPES",
           "FUSED_CELL_TYPES"]

#: cells torch's fused kernels run (cuDNN / oneDNN)
FUSED_CELL_TYPES = ("lstm", "gru", "rnn_tanh", "rnn_relu")
#: Names accepted wherever a cell type is chosen by string (configs, the CLI).
CELL_TYPES = (*FUSED_CELL_TYPES, "peephole_lstm", "layernorm_lstm", "mingru", "minlstm", "slstm", "mlstm")

_OTHER = {"peephole_lstm": PeepholeLSTMCell, "layernorm_lstm": LayerNormLSTMCell, "mingru": MinGRUCell,
          "minlstm": MinLSTMCell, "slstm": SLSTMCell, "mlstm": MLSTMCell}
#: cells that take ``forget_bias``
FORGET_BIAS_CELLS = ("lstm", "peephole_lstm", "layernorm_lstm", "slstm", "mlstm")


def make_cell(cell_type: str, input_size: int, hidden_size: int, bias: bool = True, **kwargs) -> RecurrentCell:
    """Build a built-in cell from its name: ``lstm``, ``gru``, ``rnn_tanh`` (alias ``elman``/``rnn``),
    ``rnn_relu``, ``peephole_lstm``, ``layernorm_lstm``, ``mingru``, ``minlstm``, ``slstm``, ``mlstm``."""
    name = cell_type.lower()
    if name == "lstm":
        return LSTMCell(input_size, hidden_size, bias, **kwargs)
    if name == "gru":
        return GRUCell(input_size, hidden_size, bias)
    if name in ("rnn_tanh", "rnn", "elman", "tanh"):
        return ElmanCell(input_size, hidden_size, bias, nonlinearity="tanh")
    if name in ("rnn_relu", "relu"):
        return ElmanCell(input_size, hidden_size, bias, nonlinearity="relu")
    if name in _OTHER:
        return _OTHER[name](input_size, hidden_size, bias, **kwargs)
    raise ConfigError(f"unknown cell type {cell_type!r}; choose one of {', '.join(CELL_TYPES)}")
