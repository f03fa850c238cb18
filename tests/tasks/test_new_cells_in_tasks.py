"""Every task fits with every new cell (one tiny fit each), and its saved model streams."""

from __future__ import annotations

import numpy as np
import pytest
from test_estimator_contract import FAMILIES  # the contract test's small configurations and data

NEW = ["peephole_lstm", "layernorm_lstm", "mingru", "minlstm", "slstm", "mlstm"]


@pytest.mark.parametrize("cell", NEW)
@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_every_task_fits_with_the_cell(tmp_path, family, cell):
    est = family.make().set_params(cell=cell)
    data = family.data(tmp_path)
    est.fit(*data)
    assert np.isfinite(est.best_valid_loss_)
    path = est.save(tmp_path / "m.safetensors")
    again = type(est).load(path)
    a, b = family.predict(est, data), family.predict(again, data)
    if isinstance(a, list):
        a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
        assert (a == b).all()
    else:
        assert np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=1e-6)
