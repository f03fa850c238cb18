"""Synthetic printed text lines for training and testing a line recogniser (CRNN-style):
random words rendered with a font, then slanted, blurred and speckled, as scanned print is.

Fonts are TrueType/OpenType files (:func:`system_fonts` finds those installed, e.g. the DejaVu
family); testing on a font the recogniser never saw in training shows whether it reads
letters or memorised one typeface.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnkit.errors import ConfigError

FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", "C:/Windows/Fonts")


def system_fonts(folders: Sequence[str | os.PathLike] = FONT_FOLDERS) -> list[Path]:
    """TrueType/OpenType fonts installed under ``folders`` (sorted)."""
    out: list[Path] = []
    for folder in folders:
        if Path(folder).is_dir():
            out += [p for p in Path(folder).rglob("*") if p.suffix.lower() in (".ttf", ".otf")]
    return sorted(out)


def random_text(words: Sequence[str], rng: np.random.Generator, min_words: int = 2, max_words: int = 6) -> str:
    return " ".join(words[int(i)] for i in rng.integers(0, len(words), int(rng.integers(min_words, max_words + 1))))


def render_line(text: str, font: str | os.PathLike, rng: np.random.Generator, height: int = 32,
                noise: float = 0.05, blur: float = 0.6, slant: float = 0.15):
    """A greyscale PIL image of ``text`` (dark ink on light paper), ``height`` pixels high, with
    a random size jitter, a shear up to ``slant`` (horizontal shift per pixel of height), a
    Gaussian blur up to ``blur`` pixels and Gaussian pixel noise of up to ``noise``."""
    try:
        from PIL import Image, ImageDraw, ImageFilter, ImageFont
    except ImportError:
        raise ConfigError("rendering text lines needs Pillow: pip install 'rnnkit[recognize]'") from None
    size = int(height * rng.uniform(0.6, 0.8))
    face = ImageFont.truetype(str(font), size)
    left, top, right, bottom = face.getbbox(text)
    margin = int(rng.integers(2, 6))
    width = int(right - left) + 2 * margin + int(abs(slant) * height)
    image = Image.new("L", (width, height), color=int(rng.integers(215, 256)))
    ink = int(rng.integers(0, 60))
    ImageDraw.Draw(image).text((margin - left, (height - (bottom - top)) // 2 - top), text, fill=ink, font=face)
    shear = float(rng.uniform(-slant, slant))
    if shear:
        image = image.transform(image.size, Image.Transform.AFFINE, (1, shear, -shear * height / 2, 0, 1, 0),
                                resample=Image.Resampling.BILINEAR, fillcolor=int(np.asarray(image)[0, 0]))
    radius = float(rng.uniform(0, blur))
    if radius > 0.05:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    pixels = np.asarray(image, dtype=np.float32)
    pixels += rng.normal(0, float(rng.uniform(0, noise)) * 255, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")


__all__ = ["system_fonts", "random_text", "render_line"]
