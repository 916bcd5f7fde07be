"""Pictures for the reports (numpy and Pillow): a micrograph shrunk for
viewing, and boxes as small images."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..files import atomic_output

# A micrograph's picture: its longer side at most this many pixels. The page
# shows it 420 px wide under its picks and opens it at this size on a click
# (one JPEG for both: a second, smaller one cost a fifth more to draw).
VIEW_PX = 2048


def shrink(image: np.ndarray, max_px: int) -> tuple[np.ndarray, int]:
    """The image averaged over blocks of f x f pixels, f the smallest whole
    factor that brings its longer side to at most ``max_px`` (the block mean
    is also the low-pass filter that keeps the view free of aliasing).
    Returns (view, f); float32 where f > 1."""
    f = shrink_factor(image.shape, max_px)
    return block_mean(image, f), f


def shrink_factor(shape: tuple[int, ...], max_px: int) -> int:
    """The smallest whole factor that brings the longer side of ``shape`` to at most ``max_px``."""
    return max(1, -(-max(shape) // max_px))


def block_mean(image: np.ndarray, f: int) -> np.ndarray:
    """The mean of each f x f block (rows and columns past the last whole
    block dropped), float32: the f rows of each block summed (whole rows,
    read in order), then the f columns of the result, as strided slices
    (several times faster than a mean over a reshaped array's inner axes)."""
    if f == 1:
        return image
    ny, nx = image.shape[0] // f * f, image.shape[1] // f * f
    rows = np.add(image[0:ny:f, :nx], image[1:ny:f, :nx], dtype=np.float32)
    for i in range(2, f):
        rows += image[i:ny:f, :nx]
    total = np.add(rows[:, 0::f], rows[:, 1::f])
    for j in range(2, f):
        total += rows[:, j::f]
    total *= np.float32(1.0 / (f * f))
    return total


def to_grey(image: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.0) -> np.ndarray:
    """An 8-bit image, the ``low_pct``..``high_pct`` percentiles stretched to black..white."""
    sample = image[::max(1, image.shape[0] // 256), ::max(1, image.shape[1] // 256)]
    lo, hi = np.percentile(sample, [low_pct, high_pct])
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    grey = np.subtract(image, lo, dtype=np.float32)      # one float32 copy, the rest in place
    grey *= np.float32(scale)
    np.clip(grey, 0, 255, out=grey)
    return grey.astype(np.uint8)


def save_jpeg(grey: np.ndarray, path: Path, quality: int = 85) -> None:
    from PIL import Image

    with atomic_output(path) as tmp:
        Image.fromarray(grey).save(tmp, format="JPEG", quality=quality)


def save_png(grey: np.ndarray, path: Path) -> None:
    from PIL import Image

    with atomic_output(path) as tmp:
        Image.fromarray(grey).save(tmp, format="PNG")


def micrograph_view(image: np.ndarray, folder: Path, name: str) -> dict:
    """A micrograph's picture, shrunk (:func:`shrink`, at most
    :data:`VIEW_PX`) and saved as a JPEG file in ``folder``; returns
    :func:`view_info`. Row 0 of the data array is the top row of the
    picture, as the picks' y counts it."""
    view, _ = shrink(image, VIEW_PX)
    info = view_info(image.shape, name)
    save_jpeg(to_grey(view), folder / info["view"])
    return info


def view_info(shape: tuple[int, int], name: str) -> dict:
    """What :func:`micrograph_view` returns for a micrograph of ``shape``
    (rows, columns) and file stem ``name``, from the shape alone: the file's
    name, the factor (picture pixels = micrograph pixels / factor) and the
    picture's size in pixels."""
    f = shrink_factor(shape, VIEW_PX)
    return {"view": f"{name}.jpg", "factor": f, "width": shape[1] // f, "height": shape[0] // f,
            "micrograph_shape": list(shape)}


def box_tiles(boxes: np.ndarray, path: Path, columns: int = 8) -> None:
    """(n, s, s) standardised boxes as one PNG grid, ``columns`` wide, each
    shown as the network sees it, between -3 and +3 standard deviations."""
    n, s = len(boxes), boxes.shape[1] if len(boxes) else 1
    rows = max(1, -(-n // columns))
    grid = np.full((rows * (s + 2), columns * (s + 2)), 255, np.uint8)
    for k, box in enumerate(boxes):
        r, c = divmod(k, columns)
        tile = np.clip((box + 3.0) * (255 / 6.0), 0, 255).astype(np.uint8)
        grid[r * (s + 2) + 1:r * (s + 2) + 1 + s, c * (s + 2) + 1:c * (s + 2) + 1 + s] = tile
    save_png(grid, path)
