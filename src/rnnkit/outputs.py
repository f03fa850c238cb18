"""Writing output files so that a reader never sees half of one and nothing is written
*through* a symbolic link: each file is written to a temporary file in the target's folder,
flushed and fsync'ed, then renamed over the target (which replaces a link, not what it points
to). Checkpoints, reports, predictions, plots and pages all go through here.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"  # atomic writes go through ".NAME.<random>.tmp" beside the target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        # mkstemp makes the file 0600; give it the mode any new file gets under the umask
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def save_figure(fig: Any, path: str | os.PathLike, **savefig_options: Any) -> Path:
    """A matplotlib figure to ``path`` (format from the suffix), atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", **savefig_options)
    return atomic_write_bytes(path, buf.getvalue())


def remove_orphaned_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of writes a kill interrupted (``.NAME.*.tmp``); returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    orphans = [p for p in folder.glob(f".*{TMP_SUFFIX}") if p.is_file()]
    for p in orphans:
        p.unlink(missing_ok=True)
    return orphans


__all__ = ["atomic_write_bytes", "atomic_write_text", "save_figure", "remove_orphaned_temporaries", "TMP_SUFFIX"]
