"""Training batches drawn from the boxes (pure numpy).

Each epoch every training box appears under each of the 4 rotation slots
(:data:`~.plan.ROTATIONS_PER_EPOCH`), in a random order. A sample's slot is
its rotation under ``rot4`` augmentation (the original's four 90°
rotations); under ``d8`` each sample gets a random element of the dihedral
group instead, and under ``none`` the box as it is. Each sample is then
shifted by a random whole number of pixels, up to ``shift_px`` along each
axis, as autopickers centre particles only roughly.

Every draw comes from one generator, in a fixed order (the epoch's order
when one is needed, then the batch's symmetries, then its shifts), so a seed
gives the same batches.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..images.augment import GROUP_SIZES, dihedral, shift_boxes
from .plan import ROTATIONS_PER_EPOCH


def loss_weights(is_particle: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-box loss weights with a mean of 1, and the logit shift that
    restores the odds of a particle among the user's picks.

    The particles and non-particles weigh the same in total, so the network
    learns even odds for boxes like the user's picks, and adding the shift
    (the log of the particles' odds among the picks) to its logit makes its
    scores the share of particles it predicts among new picks: calibrated.
    """
    is_particle = np.asarray(is_particle, bool)
    n_pos = max(int(is_particle.sum()), 1)
    n_neg = max(int((~is_particle).sum()), 1)
    n_user = n_pos + n_neg
    weight = np.where(is_particle, n_user / (2 * n_pos), n_user / (2 * n_neg))
    return (weight * (len(weight) / weight.sum())).astype(np.float32), float(np.log(n_pos / n_neg))


@dataclass
class Batch:
    """One step's samples: ``x`` (b, s, s, 1) float32 augmented boxes, ``y``
    (b,) int64 labels (1: particle), ``weight`` (b,) float32 loss weights."""

    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray


class BatchSampler:
    """Batches of ``batch`` augmented samples from (n, s, s) ``boxes``, drawn
    reproducibly from ``seed`` (see the module docstring)."""

    def __init__(self, boxes: np.ndarray, is_particle: np.ndarray, weights: np.ndarray, batch: int,
                 augmentation: str, shift_px: int, seed: int) -> None:
        if augmentation not in GROUP_SIZES:
            raise ValueError(f"augmentation must be one of {', '.join(GROUP_SIZES)}, not {augmentation!r}")
        self.boxes = boxes
        self.labels = np.asarray(is_particle).astype(np.int64)
        self.weights = weights
        self.batch = batch
        self.group = GROUP_SIZES[augmentation]
        self.shift_px = shift_px
        self.rng = np.random.default_rng(seed)
        self._new_epoch()

    def _new_epoch(self) -> None:
        """Every box under each rotation slot, shuffled."""
        n = len(self.boxes)
        idx = np.tile(np.arange(n), ROTATIONS_PER_EPOCH)
        slot = np.repeat(np.arange(ROTATIONS_PER_EPOCH), n)
        p = self.rng.permutation(len(idx))
        self.order, self.slots, self.pos = idx[p], slot[p], 0

    def _symmetries(self, slot: np.ndarray) -> np.ndarray:
        if self.group == 1:
            return np.zeros_like(slot)
        if self.group == 4:
            return slot
        return self.rng.integers(0, 8, size=len(slot))

    def next_batch(self) -> Batch:
        """The next batch; a new epoch starts when the current one has fewer
        samples left than a batch."""
        if self.pos + self.batch > len(self.order):
            self._new_epoch()
        idx = self.order[self.pos:self.pos + self.batch]
        slot = self.slots[self.pos:self.pos + self.batch]
        self.pos += self.batch
        x = dihedral(self.boxes[idx], self._symmetries(slot))
        if self.shift_px:
            x = shift_boxes(x, self.rng.integers(-self.shift_px, self.shift_px + 1, size=(len(x), 2)))
        return Batch(x[..., None], self.labels[idx], self.weights[idx])
