"""Pictures for the reports (numpy and Pillow): a micrograph shrunk for
viewing, and boxes as small images."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..files import atomic_output

# A micrograph's picture: its longer side at most VIEW_PX pixels; where the
# boxes are large, shrunk further, until a box is BOX_VIEW_PX pixels wide
# (enough to tell a particle from junk; more pixels cost drawing time and
# file size, not detail a reader uses). The page shows it 420 px wide under
# its picks and opens it at its own size on a click (one JPEG for both: a
# second, smaller one cost a fifth more to draw).
VIEW_PX = 2048
BOX_VIEW_PX = 64


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


# Block rows shrunk and stretched at a time: the float32 sums stay in the
# caches (about 0.5 MB for 4096 columns), twice as fast as whole arrays.
CHUNK_ROWS = 64


def grey_view(image: np.ndarray, f: int, low_pct: float = 1.0, high_pct: float = 99.0) -> np.ndarray:
    """The 8-bit picture of ``image``: its :func:`block_mean` over f x f
    blocks, the ``low_pct``..``high_pct`` percentiles of that (estimated on
    about 256 x 256 of its pixels, every k-th row and column) stretched to
    black..white. Computed :data:`CHUNK_ROWS` rows of the picture at a time."""
    ny, nx = image.shape[0] // f, image.shape[1] // f
    step_y, step_x = max(1, ny // 256), max(1, nx // 256)
    sampled_rows = (np.arange(0, ny, step_y)[:, None] * f + np.arange(f)).ravel()
    lo, hi = np.percentile(block_mean(image[sampled_rows], f)[:, ::step_x], [low_pct, high_pct])
    scale = np.float32(255.0 / (hi - lo) if hi > lo else 0.0)
    grey = np.empty((ny, nx), np.uint8)
    for r0 in range(0, ny, CHUNK_ROWS):
        part = np.subtract(block_mean(image[r0 * f:min(ny, r0 + CHUNK_ROWS) * f], f), np.float32(lo),
                           dtype=np.float32)
        part *= scale
        np.clip(part, 0, 255, out=part)
        grey[r0:r0 + len(part)] = part
    return grey


def save_jpeg(grey: np.ndarray, path: Path, quality: int = 85) -> None:
    from PIL import Image

    with atomic_output(path) as tmp:
        Image.fromarray(grey).save(tmp, format="JPEG", quality=quality)


def save_png(grey: np.ndarray, path: Path) -> None:
    from PIL import Image

    with atomic_output(path) as tmp:
        Image.fromarray(grey).save(tmp, format="PNG")


def view_factor(shape: tuple[int, int], boxsize_px: int) -> int:
    """How many micrograph pixels make one pixel of its picture: the smallest
    whole factor that brings the longer side to at most :data:`VIEW_PX`, or
    the largest that leaves a box of ``boxsize_px`` at least
    :data:`BOX_VIEW_PX` picture pixels wide, whichever is larger (a 4096²
    micrograph: 2; with 250-px boxes, 3)."""
    return max(shrink_factor(shape, VIEW_PX), boxsize_px // BOX_VIEW_PX, 1)


def micrograph_view(image: np.ndarray, folder: Path, name: str, boxsize_px: int) -> dict:
    """A micrograph's picture (:func:`grey_view`, shrunk by
    :func:`view_factor`), saved as a JPEG file in ``folder``; returns
    :func:`view_info`. Row 0 of the data array is the top row of the
    picture, as the picks' y counts it."""
    info = view_info(image.shape, name, boxsize_px)
    save_jpeg(grey_view(image, info["factor"]), folder / info["view"])
    return info


def view_info(shape: tuple[int, int], name: str, boxsize_px: int) -> dict:
    """What :func:`micrograph_view` returns for a micrograph of ``shape``
    (rows, columns), file stem ``name`` and boxes of ``boxsize_px``, from
    these alone: the file's name, the factor (picture pixels = micrograph
    pixels / factor) and the picture's size in pixels."""
    f = view_factor(shape, boxsize_px)
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
