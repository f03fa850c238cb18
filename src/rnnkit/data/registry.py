"""Public datasets by name: ``rnnkit data get ptb``, or ``data:ptb`` wherever a path goes.

Each dataset (``registry.json`` beside this file) lists its files with a canonical URL (a
pinned commit of the upstream repository) and a SHA-256. :func:`fetch` puts them in the
cache folder (``$RNNKIT_DATA``, else ``$XDG_CACHE_HOME/rnnkit/data``, else
``~/.cache/rnnkit/data``), one folder per dataset, and checks every byte:

* from a **mirror** first when ``$RNNKIT_DATA_MIRROR`` is set: a local folder (or a
  ``file://`` / ``http(s)://`` URL) laid out like the upstream collection
  (``MIRROR/ptb/ptb.train.txt``; ``../shared/data`` is one);
* otherwise from the canonical URL (datasets whose upstream is no single file, such as
  IMDb's tarball of 100,000 reviews, come from a mirror only), into ``NAME.part`` first, resuming a partial download
  with an HTTP ``Range`` request, then renamed into place once its SHA-256 matches.

A file already in the cache with the right hash is not fetched again; a wrong hash is an
error that names the file (never silently used).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rnnkit.errors import ConfigError, DataError

PREFIX = "data:"
CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    name: str
    url: str
    sha256: str


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    licence: str
    mirror_folder: str
    files: tuple[RemoteFile, ...]
    roles: dict[str, str]  # "train" (the default file), "valid", "test", ... -> file name
    #: files written from the checked ones after a fetch (FSDD's split as transcript tables),
    #: by the function named in :data:`BUILDERS`
    derived: tuple[str, ...] = ()
    builder: str = ""


#: how a dataset's derived files are made: "module:function(folder)", imported when needed
BUILDERS = {"fsdd_tables": "rnnkit.data.connected_digits:write_fsdd_tables"}


def _files(entry: dict) -> tuple[RemoteFile, ...]:
    """An entry's files: listed, or (many files) a SHA256SUMS list beside this module and a
    URL template."""
    files = [RemoteFile(**f) for f in entry["files"]]
    many = entry.get("files_from")
    if many:
        for line in (Path(__file__).parent / many["sums"]).read_text(encoding="utf-8").splitlines():
            digest, name = line.split(None, 1)
            files.append(RemoteFile(name, many["url"].format(name=name), digest))
    return tuple(files)


@lru_cache(maxsize=1)
def registry() -> dict[str, Dataset]:
    raw = json.loads((Path(__file__).with_name("registry.json")).read_text(encoding="utf-8"))
    return {name: Dataset(name, d["description"], d["licence"], d["mirror_folder"], _files(d), dict(d["roles"]),
                          tuple(d.get("derived", {}).get("files", ())), d.get("derived", {}).get("builder", ""))
            for name, d in raw.items()}


def dataset(name: str) -> Dataset:
    known = registry()
    if name not in known:
        ucr = name.lower().startswith("ucr/")
        hint = "" if ucr else f"; known: {', '.join(n for n in known if not n.startswith('ucr/'))}, ucr/NAME"
        raise ConfigError(f"unknown dataset {name!r}{hint} (rnnkit data list)")
    return known[name]


def data_dir() -> Path:
    """Where datasets are cached."""
    if os.environ.get("RNNKIT_DATA"):
        return Path(os.environ["RNNKIT_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rnnkit" / "data"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, part: Path, progress: Callable[[int], None] | None) -> None:
    """Append ``url``'s bytes to ``part``, resuming after what it already holds."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            if have and getattr(response, "status", 200) != 206:  # the server ignored the range: start over
                have = 0
            with open(part, "ab" if have else "wb") as out:
                while block := response.read(CHUNK):
                    out.write(block)
                    if progress is not None:
                        progress(len(block))
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: the partial file is whole
            return
        raise DataError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"cannot download {url} ({reason}); offline? Put the files in a folder and set "
                        f"RNNKIT_DATA_MIRROR to it, or copy them to {part.parent}") from None


def _from_mirror(mirror: str, ds: Dataset, f: RemoteFile, part: Path,
                 progress: Callable[[int], None] | None) -> bool:
    """Copy (or download) ``f`` from the mirror into ``part``; False if the mirror lacks it."""
    if "://" in mirror and not mirror.startswith("file://"):
        url = f"{mirror.rstrip('/')}/{ds.mirror_folder}/{f.name}"
        try:
            _download(url, part, progress)
        except DataError:
            return False
        return True
    root = Path(mirror[len("file://"):] if mirror.startswith("file://") else mirror).expanduser()
    source = root / ds.mirror_folder / f.name
    if not source.is_file():
        return False
    shutil.copyfile(source, part)
    return True


def fetch(name: str, progress: Callable[[int], None] | None = None) -> Path:
    """The dataset's folder in the cache, with every file present and checked."""
    ds = dataset(name)
    folder = data_dir() / ds.name
    folder.mkdir(parents=True, exist_ok=True)
    mirror = os.environ.get("RNNKIT_DATA_MIRROR")
    for f in ds.files:
        target = folder / f.name
        target.parent.mkdir(parents=True, exist_ok=True)  # names may hold a folder (fsdd: recordings/...)
        if target.exists():
            if _sha256(target) == f.sha256:
                continue
            raise DataError(f"{target} is in the cache but its SHA-256 is not the published one; delete it "
                            "to fetch it again")
        part = target.with_name(target.name + ".part")
        if not (mirror and _from_mirror(mirror, ds, f, part, progress)):
            if not f.url:  # a dataset whose upstream is no single file: a mirror must hold it
                raise DataError(f"{ds.name} is available from a mirror only ({ds.description}); set "
                                f"RNNKIT_DATA_MIRROR to a folder holding {ds.mirror_folder}/{f.name}")
            _download(f.url, part, progress)
        got = _sha256(part)
        if got != f.sha256:
            part.unlink()
            raise DataError(f"{f.name} of {ds.name}: SHA-256 {got[:12]}... is not the published "
                            f"{f.sha256[:12]}...; the download was damaged or the source changed")
        os.replace(part, target)
    if any(not (folder / name).exists() for name in ds.derived):
        import importlib

        module, _, function = BUILDERS[ds.builder].partition(":")
        getattr(importlib.import_module(module), function)(folder)
    return folder


def resolve(spec: str, role: str = "train") -> Path:
    """``data:NAME`` (its ``role`` file: train by default), ``data:NAME:ROLE`` or
    ``data:NAME/FILE`` -> a local path, fetched if need be; any other text is a path."""
    if not spec.startswith(PREFIX):
        return Path(spec)
    body = spec[len(PREFIX):]
    name, _, wanted = body.partition(":")
    if not wanted and name not in registry() and "/" in name:
        head, _, file = name.rpartition("/")
        if head in registry():
            name, wanted = head, file
    ds = dataset(name)
    wanted = wanted or role
    file = ds.roles.get(wanted, wanted)
    if any(f.name.startswith(file + "/") for f in ds.files):  # a role that is a folder of files
        return fetch(name) / file
    if file not in {f.name for f in ds.files} | set(ds.derived):
        raise ConfigError(f"dataset {name!r} has no {wanted!r}; it has {', '.join(ds.roles)} "
                          f"({', '.join(f.name for f in ds.files)})")
    return fetch(name) / file


def has_role(spec: str, role: str) -> bool:
    """Whether ``spec`` names a dataset that has a ``role`` file (e.g. a valid split)."""
    if not spec.startswith(PREFIX):
        return False
    name = spec[len(PREFIX):].partition(":")[0]
    return name in registry() and role in registry()[name].roles


# the names the public face (rnnkit.tasks.io) gives them
resolve_data, has_data_role, dataset_registry, fetch_dataset = resolve, has_role, registry, fetch

__all__ = ["Dataset", "RemoteFile", "registry", "dataset", "data_dir", "fetch", "resolve", "has_role", "PREFIX",
           "resolve_data", "has_data_role", "dataset_registry", "fetch_dataset"]
