"""Numbers a model can train on: finite, and within float32's range.

``inf`` trains to an infinite loss and all-NaN metrics; a value beyond float32's largest
(about 3.4e38) turns into ``inf`` when cast. Readers keep ``NaN`` for missing values (they
handle it themselves) and refuse the rest here, naming the first bad cell.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.errors import DataError

FLOAT32_MAX = float(np.finfo(np.float32).max)


def first_unusable(values: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first value that is infinite or beyond float32's range (NaN is allowed)."""
    a = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = np.isinf(a) | (np.abs(a) > FLOAT32_MAX)
    if not bad.any():
        return None
    return tuple(int(i) for i in np.argwhere(bad)[0])


def check_finite(values: np.ndarray, where: str, axes: Sequence[str] = ("value",), first: int = 1) -> None:
    """Raise a one-line :class:`DataError` at the first infinite or float32-overflowing value,
    named as ``where`` plus its index on each of ``axes`` counted from ``first``:
    ``check_finite(v, "data.tsv, line 7")`` -> "data.tsv, line 7, value 3: ..."."""
    index = first_unusable(values)
    if index is not None:
        v = float(np.asarray(values, dtype=np.float64)[index])
        what = "infinite" if np.isinf(v) else "beyond float32's range (|x| > 3.4e38)"
        place = ", ".join([where, *(f"{a} {i + first}" for a, i in zip(axes, index))])
        raise DataError(f"{place}: value {v:g} is {what}; fix or drop it")


__all__ = ["check_finite", "first_unusable", "FLOAT32_MAX"]
