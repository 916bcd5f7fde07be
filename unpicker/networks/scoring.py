"""Scoring boxes with a network or an ensemble of networks (Keras 3,
backend-neutral).

A network gives two logits per box, (non-particle, particle); a box's
*margin* is their difference, the particle log-odds. Scores are averaged as
margins: over test-time views (dihedral symmetries of the box) and over an
ensemble's networks; the particle probability is the sigmoid of the average.
"""
from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from ..images.augment import dihedral

# Boxes whose test-time views are made and classified at once (4 views of
# 4,096 boxes of 32 px: 64 MB).
SCORE_CHUNK = 4096


def member_views(symmetries: int, index: int, count: int) -> tuple[int, ...]:
    """The test-time views (dihedral elements) that network ``index`` of an
    ensemble of ``count`` classifies: the ``symmetries`` views dealt out in
    turn, so that with 4 views and 2 networks the first sees 0° and 180°, the
    second 90° and 270°, and the ensemble costs what one network on all four
    views does. With fewer views than networks every network sees them all."""
    if symmetries < count or symmetries % count:
        return tuple(range(symmetries))
    return tuple(range(index, symmetries, count))


def sigmoid(margin: np.ndarray) -> np.ndarray:
    """The probability of a margin (log-odds)."""
    return 1.0 / (1.0 + np.exp(-margin))


def particle_margin(model: keras.Model, boxes, batch_size: int = 1024, logit_shift: float = 0.0,
                    symmetries: int | Sequence[int] = 1, pad_to: int | None = None) -> np.ndarray:
    """The particle-vs-non-particle logit (float64) of (n, s, s) or (n, s, s, 1) boxes.

    ``logit_shift`` is added to it: training with class weights shifts it by
    log(n_N / n_P), and the model file stores the shift that undoes this, so
    the sigmoid of the result is the probability under the class balance the
    user's picks had (and an ensemble can average calibrated logits).
    ``symmetries`` (1, 4 or 8) averages the logit over the first elements of
    the dihedral group (test-time augmentation); a sequence names the
    elements (:func:`~unpicker.images.augment.dihedral`'s k) to average over instead.
    ``pad_to``: every batch is padded (with zeros, whose outputs are dropped)
    to a multiple of this size. JAX and PyTorch compile once per batch shape,
    so micrographs with different numbers of picks then share a few compiled
    shapes; TensorFlow relaxes the shape itself. Default: 128 on JAX and
    PyTorch, no padding on TensorFlow.
    """
    boxes = np.asarray(boxes, np.float32)
    if boxes.ndim == 3:
        boxes = boxes[..., None]
    elements = range(symmetries) if isinstance(symmetries, int) else list(symmetries)
    if pad_to is None:
        pad_to = 0 if keras.backend.backend() == "tensorflow" else 128
    # the views of at most SCORE_CHUNK boxes are made at once, so memory does
    # not grow with the number of picks beyond the boxes themselves
    margin = np.empty(len(boxes))
    for start in range(0, len(boxes), SCORE_CHUNK):
        margin[start:start + SCORE_CHUNK] = _chunk_margin(model, boxes[start:start + SCORE_CHUNK], batch_size,
                                                          elements, pad_to)
    return margin + logit_shift


def _chunk_margin(model: keras.Model, boxes: np.ndarray, batch_size: int, elements, pad_to: int) -> np.ndarray:
    """:func:`particle_margin` of a few boxes (n, s, s, 1), without the shift."""
    n = len(boxes)
    if n == 0:
        return np.zeros(0)
    # all views in one stack, classified in large batches (fewer, fuller calls)
    views = np.concatenate([boxes if k == 0 else dihedral(boxes[..., 0], k)[..., None] for k in elements])
    calls = -(-len(views) // batch_size)
    step = -(-len(views) // calls)                  # equal batches: 1200 views as 2 x 600
    if pad_to:
        step = -(-step // pad_to) * pad_to
    margin = np.empty(len(views))
    for i in range(0, len(views), step):
        chunk = views[i:i + step]
        n_chunk = len(chunk)
        if pad_to and n_chunk < step:
            chunk = np.concatenate([chunk, np.zeros((step - n_chunk,) + chunk.shape[1:], chunk.dtype)])
        logits = np.asarray(model.predict_on_batch(chunk), np.float64)[:n_chunk]
        margin[i:i + n_chunk] = logits[:, 1] - logits[:, 0]
    return margin.reshape(len(elements), n).mean(axis=0)


def ensemble_margin(networks: list[tuple[keras.Model, float, Sequence[int]]], boxes) -> np.ndarray:
    """The calibrated logit of an ensemble: the mean of its networks' logits,
    each averaged over its own views. ``networks``: (model, logit_shift,
    views) triples; views as :func:`particle_margin`'s ``symmetries``."""
    return np.mean([particle_margin(m, boxes, logit_shift=shift, symmetries=views)
                    for m, shift, views in networks], axis=0)


def ensemble_probability(networks: list[tuple[keras.Model, float, Sequence[int]]], boxes) -> np.ndarray:
    """P(particle) of an ensemble, float32: the sigmoid of :func:`ensemble_margin`."""
    return sigmoid(ensemble_margin(networks, boxes)).astype(np.float32)
