"""Boxes around picks: extraction, anti-aliased resizing, normalisation, and
the shifts and dihedral symmetries used for augmentation (pure, vectorised numpy).

Conventions: the image is indexed ``image[y, x]``; a pick at integer (x, y)
gets the box of pixels ``x - B/2 ... x + B/2 - 1`` (and the same in y), so the
pick lies at box pixel ``B/2``, as RELION extracts. A fractional pick shifts
the box continuously: resizing integrates each output pixel over its exact
footprint in the micrograph (area averaging), so sub-pixel positions, the
anti-aliasing and the mean are all handled by one linear map per axis.
"""
from __future__ import annotations

import numpy as np


def area_weights(start_px: np.ndarray, boxsize_px: int, resized_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Area-averaging weights along one axis, one matrix per box.

    Args:
        start_px: (n,) position of each box's first edge in pixel-edge
            coordinates (pixel j covers [j, j+1)).
    Returns:
        ``(first, weights)``: (n,) int index of the first pixel of each
        box's window of ``boxsize_px + 1`` pixels, and (n, resized_px,
        boxsize_px + 1) float32 weights; each row sums to 1.
    """
    first = np.floor(start_px).astype(np.int64)
    frac = (start_px - first).astype(np.float32)
    step = boxsize_px / resized_px
    lo = frac[:, None] + np.float32(step) * np.arange(resized_px, dtype=np.float32)[None, :]  # (n, R)
    j = np.arange(boxsize_px + 1, dtype=np.float32)                     # (W,)
    overlap = np.minimum(lo[..., None] + np.float32(step), j + 1) - np.maximum(lo[..., None], j)
    weights = np.clip(overlap, 0.0, None) / np.float32(step)
    return first, weights


def extract_boxes(image: np.ndarray, xy: np.ndarray, boxsize_px: int, resized_px: int,
                  fill: float | None = None) -> np.ndarray:
    """All boxes of one micrograph in one call.

    Args:
        image: (ny, nx) float32 micrograph.
        xy: (n, 2) pick centres (x, y) in pixels; fractional values allowed.
        boxsize_px: box edge in micrograph pixels.
        resized_px: edge of the returned boxes (area-averaged from boxsize_px).
        fill: value for the parts of boxes outside the micrograph (default:
            the micrograph mean, neutral after normalisation; the original
            used the middle of the min-max range).
    Returns:
        (n, resized_px, resized_px) float32.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(xy)
    if n == 0:
        return np.zeros((0, resized_px, resized_px), np.float32)
    if not np.isfinite(xy).all():
        raise ValueError("pick coordinates must be finite numbers")
    ny, nx = image.shape
    win = boxsize_px + 1
    x0, wx = area_weights(xy[:, 0] - boxsize_px / 2, boxsize_px, resized_px)
    y0, wy = area_weights(xy[:, 1] - boxsize_px / 2, boxsize_px, resized_px)

    out = np.empty((n, resized_px, resized_px), np.float32)
    # A window wholly inside the image is used in place (a view; copying all
    # windows first cost about as much as the arithmetic); the few that cross
    # an edge are gathered with clamped indices and the outside part set to
    # the fill value (no padded copy of the whole micrograph).
    edge = (x0 < 0) | (y0 < 0) | (x0 + win > nx) | (y0 + win > ny)
    for i in np.flatnonzero(~edge):
        window = image[y0[i]:y0[i] + win, x0[i]:x0[i] + win]
        out[i] = wy[i] @ (window @ wx[i].T)
    if edge.any():
        rows = y0[edge, None] + np.arange(win)                     # (m, win)
        cols = x0[edge, None] + np.arange(win)
        part = image[np.clip(rows, 0, ny - 1)[:, :, None], np.clip(cols, 0, nx - 1)[:, None, :]]
        outside = ((rows < 0) | (rows >= ny))[:, :, None] | ((cols < 0) | (cols >= nx))[:, None, :]
        part[outside] = float(image.mean()) if fill is None else fill
        out[edge] = np.matmul(np.matmul(wy[edge], part), wx[edge].transpose(0, 2, 1))
    return out


def normalise_boxes(boxes: np.ndarray, mode: str, mic_mean: float = 0.0, mic_sd: float = 1.0) -> np.ndarray:
    """Standardise boxes in place: ``"box"`` to each box's own mean 0 and sd 1,
    ``"micrograph"`` with the micrograph's mean and sd."""
    if mode == "box":
        mean = boxes.mean(axis=(1, 2), keepdims=True)
        sd = boxes.std(axis=(1, 2), keepdims=True)
        boxes -= mean
        boxes /= np.maximum(sd, 1e-6)
    elif mode == "micrograph":
        boxes -= mic_mean
        boxes /= max(mic_sd, 1e-6)
    else:
        raise ValueError(f"unknown normalisation {mode!r}")
    return boxes


def default_shift_px(resized_px: int) -> int:
    """The largest training shift by default, in pixels of the resized box:
    a sixteenth of the box, rounded down (2 of 32; none below 16)."""
    return resized_px // 16


def shift_boxes(boxes: np.ndarray, shifts_px: np.ndarray) -> np.ndarray:
    """Move each of (n, s, s) boxes by whole pixels: ``out[i, y, x] =
    boxes[i, y + dy, x + dx]`` for ``shifts_px[i] = (dy, dx)``, the pixels that
    come from outside the box set to 0 (the mean of standardised boxes).
    Shifts must lie within ``-s..s``. Returns a new array."""
    n, s = boxes.shape[0], boxes.shape[1]
    shifts_px = np.asarray(shifts_px, dtype=np.int64).reshape(n, 2)
    pad = int(np.abs(shifts_px).max(initial=0))
    if pad == 0:
        return boxes.copy()
    padded = np.pad(boxes, ((0, 0), (pad, pad), (pad, pad)))
    rows = (pad + shifts_px[:, 0])[:, None] + np.arange(s)
    cols = (pad + shifts_px[:, 1])[:, None] + np.arange(s)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


# The symmetry groups used for augmentation: the four 90° rotations (as the
# original), all eight of the dihedral group (rotations of the box and of its
# mirror image), or none.
GROUP_SIZES = {"none": 1, "rot4": 4, "d8": 8}


def dihedral(boxes: np.ndarray, k: int | np.ndarray) -> np.ndarray:
    """Apply element ``k`` (0-7) of the dihedral group to (n, s, s) boxes:
    ``k % 4`` quarter turns, of the mirror image when ``k >= 4``. An array
    ``k`` gives each box its own element."""
    if np.ndim(k) == 0:
        out = boxes[:, :, ::-1] if k >= 4 else boxes
        return np.rot90(out, int(k) % 4, axes=(1, 2))
    k = np.asarray(k)
    out = np.empty_like(boxes)
    for e in np.unique(k):
        sel = k == e
        out[sel] = dihedral(boxes[sel], int(e))
    return out


def augment(boxes: np.ndarray, group: str = "rot4") -> np.ndarray:
    """Every box under every element of ``group``: (n * G, s, s), each box's
    G versions consecutive (the original's order for the four rotations)."""
    g = GROUP_SIZES[group]
    stacked = np.stack([dihedral(boxes, k) for k in range(g)], axis=1)
    return stacked.reshape(-1, *boxes.shape[1:])


def member_views(symmetries: int, index: int, count: int) -> tuple[int, ...]:
    """The test-time views (dihedral elements) that network ``index`` of an
    ensemble of ``count`` classifies: the ``symmetries`` views dealt out in
    turn, so that with 4 views and 2 networks the first sees 0° and 180°, the
    second 90° and 270°, and the ensemble costs what one network on all four
    views does. With fewer views than networks every network sees them all."""
    if symmetries < count or symmetries % count:
        return tuple(range(symmetries))
    return tuple(range(index, symmetries, count))
