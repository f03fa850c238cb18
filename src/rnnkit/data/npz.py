"""Read NumPy ``.npz`` archives without letting the file run code.

``np.load(..., allow_pickle=True)`` unpickles object arrays, and unpickling calls whatever
callable the file names: a ``.npz`` from the internet can run any code on the reader's
machine. Plain numeric arrays need no pickle at all; object arrays do (Coconet's JSB
Chorales ``.npz`` holds each split as an object array of ``(T, voices)`` float arrays).

:func:`read_npz_arrays` opens the archive as a zip of ``.npy`` members. A numeric member is
read by ``np.lib.format.read_array(allow_pickle=False)``. An object member's pickle is read
by :class:`ArrayOnlyUnpickler`, which resolves exactly three globals -- ``ndarray``, ``dtype``
and numpy's ``_reconstruct`` -- and refuses every other name (the "restricting globals"
recipe of the :mod:`pickle` documentation; ``torch.load(weights_only=True)`` works the same
way). With only those three callables reachable, unpickling can build arrays and nothing
else. The result is then checked to be an object array of numeric arrays.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from rnnkit.errors import DataError

# The only (module, name) pairs an object array's pickle may name. numpy 2 moved
# ``numpy.core`` to ``numpy._core``; files written by numpy 1 name the old path.
_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(0))[0],
    ("numpy._core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(0))[0],
}


class UnsafePickleError(DataError):
    """The file's pickle names a callable other than the array builders."""


class ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can build numpy arrays and dtypes and nothing else."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"it asks to call {module}.{name}") from None


def _numeric(a: object) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind in "biuf"


def _read_member(data: bytes, where: str) -> np.ndarray:
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                                 else np.lib.format.read_array_header_2_0(f))
    except ValueError as e:
        raise DataError(f"{where} is not a .npy array: {str(e).splitlines()[0]}") from None
    if not dtype.hasobject:
        f.seek(0)
        return np.lib.format.read_array(f, allow_pickle=False)
    try:
        # latin1: Python 2 pickles (Coconet's files) store the array bytes as str.
        obj = ArrayOnlyUnpickler(f, encoding="latin1").load()
    except UnsafePickleError as e:
        raise DataError(f"{where} was refused: {e} (a data file may only hold arrays)") from None
    except Exception as e:  # any malformed pickle: truncated, bad opcodes, wrong state
        raise DataError(f"{where} is not a readable array: {type(e).__name__}: {e}") from None
    if not isinstance(obj, np.ndarray) or obj.shape != shape:
        raise DataError(f"{where} does not hold the {shape} array its header declares")
    if not all(_numeric(x) or isinstance(x, (int, float)) for x in obj.flat):
        raise DataError(f"{where} holds something other than numeric arrays")
    return obj


def read_npz_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive by name; object arrays hold numeric arrays only."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path} is not an .npz archive (a zip of .npy arrays): {e}") from None
    with archive:
        out = {}
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            try:
                data = archive.read(member)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise DataError(f"{path}: cannot read {member}: {e}") from None
            out[member[:-4]] = _read_member(data, f"{path}: {member}")
    return out


__all__ = ["read_npz_arrays", "ArrayOnlyUnpickler", "UnsafePickleError"]
