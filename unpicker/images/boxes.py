"""Boxes around picks: extraction, anti-aliased resizing and standardisation
(pure, vectorised numpy).

Conventions: the image is indexed ``image[y, x]``; a pick at integer (x, y)
gets the box of pixels ``x - B/2 ... x + B/2 - 1`` (and the same in y), so the
pick lies at box pixel ``B/2``, as RELION extracts. A fractional pick shifts
the box continuously: resizing integrates each output pixel over its exact
footprint in the micrograph (area averaging), so sub-pixel positions, the
anti-aliasing and the mean are all handled by one linear map per axis.
"""
from __future__ import annotations

import numpy as np

from .ctf import CtfParams
from .preprocess import Preprocessing, preprocess_with_stats


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


# Picks whose resizing weights are computed at once: the weights take
# 2 x resized_px x (boxsize_px + 1) floats per pick (64 KB at 250 -> 32), so
# a micrograph with a hundred thousand picks is cut in chunks of this many.
EXTRACT_CHUNK = 1024


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
        (n, resized_px, resized_px) float32. Memory besides it does not grow
        with the number of picks (they are cut :data:`EXTRACT_CHUNK` at a time).
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(xy)
    out = np.empty((n, resized_px, resized_px), np.float32)
    if n == 0:
        return out
    if not np.isfinite(xy).all():
        raise ValueError("pick coordinates must be finite numbers")
    if fill is None:
        fill = float(image.mean())
    for start in range(0, n, EXTRACT_CHUNK):
        _extract_chunk(image, xy[start:start + EXTRACT_CHUNK], boxsize_px, resized_px, fill,
                       out[start:start + EXTRACT_CHUNK])
    return out


def _extract_chunk(image: np.ndarray, xy: np.ndarray, boxsize_px: int, resized_px: int, fill: float,
                   out: np.ndarray) -> None:
    """:func:`extract_boxes` for a few picks, into ``out``."""
    ny, nx = image.shape
    win = boxsize_px + 1
    x0, wx = area_weights(xy[:, 0] - boxsize_px / 2, boxsize_px, resized_px)
    y0, wy = area_weights(xy[:, 1] - boxsize_px / 2, boxsize_px, resized_px)
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
        part[outside] = fill
        out[edge] = np.matmul(np.matmul(wy[edge], part), wx[edge].transpose(0, 2, 1))


def normalise_boxes(boxes: np.ndarray, mic_mean: float, mic_sd: float) -> np.ndarray:
    """Standardise boxes in place with their micrograph's mean and standard
    deviation (see :class:`~unpicker.images.preprocess.Preprocessing`)."""
    boxes -= mic_mean
    boxes /= max(mic_sd, 1e-6)
    return boxes


def processed_boxes(processed: np.ndarray, mean: float, sd: float, xy: np.ndarray,
                    settings: Preprocessing) -> np.ndarray:
    """The standardised boxes of ``xy`` cut from an already preprocessed
    micrograph whose mean and standard deviation are ``mean`` and ``sd``,
    (n, resized_px, resized_px) float32."""
    boxes = extract_boxes(processed, xy, settings.boxsize_px, settings.resized_px, fill=mean)
    return normalise_boxes(boxes, mean, sd)


def micrograph_boxes(image: np.ndarray, xy: np.ndarray, settings: Preprocessing,
                     ctf: CtfParams | None = None, workers: int = 1) -> np.ndarray:
    """Preprocess one micrograph and return the standardised boxes of ``xy``:
    the one path from micrograph to network inputs, shared by training and
    unpicking so that both always prepare boxes the same way."""
    return processed_boxes(*preprocess_with_stats(image, settings, ctf, workers), xy, settings)


def box_too_large(shape: tuple[int, ...], boxsize_px: int, micrograph: str) -> str | None:
    """Why boxes of ``boxsize_px`` cannot be cut from a micrograph of
    ``shape`` (rows, columns): larger than it, every box would be mostly
    filling, and the network learns nothing from them. None when they fit."""
    if boxsize_px > min(shape):
        return (f"{micrograph}: the box ({boxsize_px} px) is larger than the micrograph ({shape[1]} x {shape[0]} px); "
                "is --boxsize in pixels of these micrographs?")
    return None


def outside_micrograph(xy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Per pick, whether its centre lies outside an image of ``shape`` (rows,
    columns): x below 0 or at least the width, or y below 0 or at least the height."""
    return (xy < 0).any(axis=1) | (xy[:, 0] >= shape[1]) | (xy[:, 1] >= shape[0])


def outside_warning(xy: np.ndarray, shape: tuple[int, ...], source: str, micrograph: str,
                    row_lines: list[int] | None = None) -> str | None:
    """A warning naming ``source`` (the coordinate file) and ``micrograph`` when
    some picks lie outside the micrograph, with the first one's coordinates
    (and line, given each row's 0-based line index); None when all lie inside.

    Their boxes are still cut (filled with the micrograph's mean where they
    leave it), so a run goes on; picks outside usually mean coordinates made
    for other micrographs, or at another pixel size (binning)."""
    outside = outside_micrograph(xy, shape)
    if not outside.any():
        return None
    k = int(np.argmax(outside))
    where = f"line {row_lines[k] + 1}: " if row_lines is not None else ""
    return (f"{source}: {int(outside.sum())} of {len(xy)} picks lie outside {micrograph} "
            f"({shape[1]} x {shape[0]} px), the first at {where}x {xy[k, 0]:g}, y {xy[k, 1]:g}. "
            "Are these coordinates for this micrograph, at its pixel size?")
