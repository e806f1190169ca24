"""Reading the graphs' PNGs as pixels, for the live and the history graph tests."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from matplotlib.colors import to_rgb
from PIL import Image

from pterodisbot.graphs import HEIGHT, WIDTH

Pixels = npt.NDArray[np.uint8]


def decode(png: bytes) -> Pixels:
    """Return a graph's RGB pixels, after checking it is a PNG of the graphs' size."""
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT)
    return np.asarray(image.convert("RGB"))


def near(pixels: Pixels, colour: str | tuple[float, float, float], tolerance: int = 12) -> Pixels:
    """Return where the pixels are within `tolerance` of `colour` on every channel."""
    rgb = np.array(to_rgb(colour) if isinstance(colour, str) else colour) * 255
    return np.abs(pixels.astype(np.int16) - rgb.astype(np.int16)).max(axis=2) <= tolerance


def mix(base: str, over: str, alpha: float) -> tuple[float, float, float]:
    """Return the colour of `over` drawn with `alpha` on `base`."""
    b, o = np.array(to_rgb(base)), np.array(to_rgb(over))
    r, g, bl = b + alpha * (o - b)
    return (float(r), float(g), float(bl))
