"""Polyphonic music as piano rolls: one multi-hot vector of the 88 piano keys per time step.

A piano roll is a ``(T, 88)`` float32 array; column ``k`` is MIDI pitch ``21 + k`` (A0 to
C8), 1 where the key sounds during step ``t``. Readers:

* JSB Chorales JSON (``{"train": [...], "valid": [...], "test": [...]}``, each piece a list
  of steps, each step a list of MIDI pitches; Boulanger-Lewandowski et al. 2012's split);
* Coconet's ``.npz`` (each piece a ``(T, voices)`` array of pitches, NaN for silence);
* MIDI files (with ``mido``; ``pip install 'rnnkit[music]'``), quantised to a grid of
  ``steps_per_quarter`` steps per quarter note: a note sounds in every step its span covers.

:func:`write_midi` turns a roll back into a playable MIDI file: a note starts where a key
turns on and lasts while it stays on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.npz import read_npz_arrays
from rnnkit.data.sequences import IndexedBatches
from rnnkit.errors import ConfigError, DataError

LOWEST = 21  # A0
N_KEYS = 88  # A0..C8
SPLITS = ("train", "valid", "test")


def roll_from_steps(steps: list, where: str = "") -> np.ndarray:
    """A list of steps, each a list of MIDI pitches (or NaN for silent voices) -> ``(T, 88)``."""
    roll = np.zeros((len(steps), N_KEYS), dtype=np.float32)
    for t, notes in enumerate(steps):
        for p in notes:
            if p is None or (isinstance(p, float) and np.isnan(p)):
                continue
            if isinstance(p, bool) or not isinstance(p, (int, float, np.number)):
                raise DataError(f"pitch {p!r}{where} is not a MIDI note number (21-108)")
            k = int(round(float(p))) - LOWEST
            if not 0 <= k < N_KEYS:
                raise DataError(f"pitch {p}{where} is outside the piano's 88 keys (MIDI 21-108)")
            roll[t, k] = 1.0
    return roll


def read_jsb_json(path: str | Path) -> dict[str, list[np.ndarray]]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path} is not a JSON file of chorales: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict) or not any(s in data for s in SPLITS):
        raise DataError(f"{path} has no 'train', 'valid' or 'test' list of pieces")
    out = {}
    for split in SPLITS:
        pieces = data.get(split, [])
        out[split] = [roll_from_steps(p, f" in {path}, {split} piece {i}") for i, p in enumerate(pieces) if len(p)]
    return out


def read_npz(path: str | Path) -> dict[str, list[np.ndarray]]:
    """Coconet's ``.npz`` (object arrays of ``(T, voices)`` pitch arrays), read without
    running any code the file might carry (:mod:`rnnkit.data.npz`)."""
    z = read_npz_arrays(path)
    out: dict[str, list[np.ndarray]] = {}
    for split in SPLITS:
        pieces = z.get(split, np.zeros(0))
        out[split] = [roll_from_steps(np.asarray(p, dtype=np.float64).tolist(), f" in {path}, {split} piece {i}")
                      for i, p in enumerate(pieces) if len(p)]
    return out


def _mido():
    try:
        import mido
    except ImportError:
        raise ConfigError("MIDI needs the mido package: pip install 'rnnkit[music]'") from None
    return mido


def read_midi(path: str | Path, steps_per_quarter: int = 4) -> np.ndarray:
    """One MIDI file (every track and channel but drums, channel 10) -> a ``(T, 88)`` roll."""
    mido = _mido()
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        mid = mido.MidiFile(str(path))
    except (OSError, ValueError, EOFError, KeyError, IndexError) as e:
        raise DataError(f"{path} is not a readable MIDI file: {e}") from None
    per_step = mid.ticks_per_beat / steps_per_quarter
    notes = []  # (pitch, start tick, end tick)
    for track in mid.tracks:
        tick = 0
        open_notes: dict[tuple[int, int], int] = {}
        for msg in track:
            tick += msg.time
            if msg.type not in ("note_on", "note_off") or getattr(msg, "channel", 0) == 9:
                continue
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault(key, tick)
            elif key in open_notes:
                notes.append((msg.note, open_notes.pop(key), tick))
    if not notes:
        raise DataError(f"{path} has no notes")
    steps = int(np.ceil(max(end for _, _, end in notes) / per_step))
    roll = np.zeros((max(steps, 1), N_KEYS), dtype=np.float32)
    for pitch, start, end in notes:
        k = pitch - LOWEST
        if 0 <= k < N_KEYS:
            a = int(round(start / per_step))
            b = max(a + 1, int(round(end / per_step)))
            roll[a:b, k] = 1.0
    return roll


def read_music(path: str | Path, steps_per_quarter: int = 4) -> dict[str, list[np.ndarray]]:
    """Splits of piano rolls from a JSB ``.json``, a Coconet ``.npz``, one ``.mid`` file or a
    folder of them (all in ``train``)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".mid", ".midi"))
        if not files:
            raise DataError(f"{path} holds no .mid files")
        return {"train": [read_midi(p, steps_per_quarter) for p in files], "valid": [], "test": []}
    suffix = path.suffix.lower()
    if suffix == ".json":
        return read_jsb_json(path)
    if suffix == ".npz":
        return read_npz(path)
    if suffix in (".mid", ".midi"):
        return {"train": [read_midi(path, steps_per_quarter)], "valid": [], "test": []}
    if not path.exists():
        raise DataError(f"{path}: no such file")
    raise DataError(f"{path}: expected a .json (JSB chorales), .npz (Coconet), .mid file or a folder of .mid files")


def pad_rolls(pieces: list[np.ndarray]) -> tuple[Tensor, Tensor]:
    """``(B, T_max, 88)`` zero-padded rolls and their lengths ``(B,)``."""
    lengths = torch.tensor([len(p) for p in pieces])
    out = torch.zeros(len(pieces), int(lengths.max()), N_KEYS)
    for i, p in enumerate(pieces):
        out[i, :len(p)] = torch.from_numpy(np.asarray(p, dtype=np.float32))
    return out, lengths


class RollBatches(IndexedBatches):
    """Batches of whole pieces ``(B, T_max, 88)`` with lengths, shuffled per epoch with a seed."""

    def __init__(self, pieces: list[np.ndarray], batch_size: int, shuffle: bool = True, seed: int = 0) -> None:
        if not pieces:
            raise DataError("no pieces to batch")
        self.pieces, self.batch_size, self.shuffle, self.seed = pieces, batch_size, shuffle, seed
        self.n_items = len(pieces)

    def batch(self, idx: np.ndarray) -> tuple[Tensor, Tensor]:
        return pad_rolls([self.pieces[i] for i in idx])


def write_midi(roll: np.ndarray, path: str | Path, steps_per_quarter: int = 1, bpm: float = 100.0,
               velocity: int = 80) -> Path:
    """Write a ``(T, 88)`` roll as a one-track MIDI file (piano); returns the path."""
    mido = _mido()
    roll = np.asarray(roll) > 0.5
    if roll.ndim != 2 or roll.shape[1] != N_KEYS:
        raise ValueError(f"a piano roll is (T, {N_KEYS}), got {roll.shape}")
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    step_ticks = 480 // steps_per_quarter
    padded = np.vstack([np.zeros((1, N_KEYS), bool), roll, np.zeros((1, N_KEYS), bool)])
    events = []  # (tick, order, type, pitch): note-offs before note-ons at the same tick
    for k in range(N_KEYS):
        change = np.flatnonzero(padded[1:, k] != padded[:-1, k])
        for on, off in zip(change[::2], change[1::2]):
            events.append((on * step_ticks, 1, "note_on", LOWEST + k))
            events.append((off * step_ticks, 0, "note_off", LOWEST + k))
    last = 0
    for tick, _, kind, pitch in sorted(events):
        track.append(mido.Message(kind, note=pitch, velocity=velocity if kind == "note_on" else 0,
                                  time=int(tick - last)))
        last = tick
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    mid.save(str(tmp))
    tmp.replace(path)  # never a half-written file under the real name
    return path


__all__ = ["read_jsb_json", "read_npz", "read_midi", "read_music", "write_midi", "roll_from_steps", "pad_rolls",
           "RollBatches", "LOWEST", "N_KEYS"]
