"""Augmenting training boxes: whole-pixel shifts and the dihedral symmetries
of a square box (pure, vectorised numpy). Boxes are (n, s, s) arrays indexed
``box[i, y, x]``."""
from __future__ import annotations

import numpy as np


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
