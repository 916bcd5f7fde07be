"""Training batches and loss weights (unpicker/training/sampler.py)."""
from __future__ import annotations

import numpy as np
import pytest

from unpicker.images.augment import dihedral, shift_boxes
from unpicker.training.sampler import BatchSampler, loss_weights


def test_loss_weights_balance_the_classes_and_the_shift_restores_their_odds():
    # 300 picks, 70 % particles
    is_particle = np.r_[np.ones(210, bool), np.zeros(90, bool)]
    weight, shift = loss_weights(is_particle)
    assert weight.dtype == np.float32 and weight.mean() == pytest.approx(1.0)
    # the weights are the inverse class frequencies, to the bit
    np.testing.assert_array_equal(weight, np.where(is_particle, 300 / 420, 300 / 180).astype(np.float32))
    # a network that cannot tell the picks apart learns the weighted log-odds (0);
    # with the shift its score is the share of particles
    learnt = np.log(weight[is_particle].sum() / weight[~is_particle].sum())
    assert learnt == pytest.approx(0.0, abs=1e-6)
    assert 1 / (1 + np.exp(-(learnt + shift))) == pytest.approx(0.7)


def _reference_batches(x, y, w, batch, augmentation, shift, seed, steps):
    """The batches as the training loop drew them before the sampler was its
    own module, written out step by step: the draws must stay in this order,
    or every benchmark figure moves."""
    rng = np.random.default_rng(seed)
    n = len(x)

    def epoch_order():
        idx = np.tile(np.arange(n), 4)
        slot = np.repeat(np.arange(4), n)
        p = rng.permutation(len(idx))
        return idx[p], slot[p]

    order, slots = epoch_order()
    pos, out = 0, []
    for _ in range(steps):
        if pos + batch > len(order):
            order, slots = epoch_order()
            pos = 0
        idx, slot = order[pos:pos + batch], slots[pos:pos + batch]
        pos += batch
        k = {"none": np.zeros_like(slot), "rot4": slot}.get(augmentation)
        if k is None:
            k = rng.integers(0, 8, size=len(slot))
        xb = dihedral(x[idx], k)
        if shift:
            xb = shift_boxes(xb, rng.integers(-shift, shift + 1, size=(len(xb), 2)))
        out.append((xb[..., None], y[idx].astype(np.int64), w[idx]))
    return out


@pytest.mark.parametrize("augmentation, shift", [("d8", 2), ("rot4", 0), ("none", 1)])
def test_batches_are_the_training_loops_draws_in_the_same_order(augmentation, shift):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(37, 8, 8)).astype(np.float32)
    y = rng.random(37) < 0.4
    w, _ = loss_weights(y)
    sampler = BatchSampler(x, y, w, 16, augmentation, shift, seed=9)
    # 20 steps of 16 cross several epochs of 4 x 37 samples
    for step, (xb, yb, wb) in enumerate(_reference_batches(x, y, w, 16, augmentation, shift, 9, 20)):
        got = sampler.next_batch()
        np.testing.assert_array_equal(got.x, xb, err_msg=f"step {step}")
        np.testing.assert_array_equal(got.y, yb)
        np.testing.assert_array_equal(got.weight, wb)


def test_an_epoch_shows_every_box_under_every_rotation_slot_once():
    x = np.arange(10, dtype=np.float32)[:, None, None] * np.ones((10, 4, 4), np.float32)
    x[:, 0, 0] += 100          # marks the corner, so the rotation can be read back
    sampler = BatchSampler(x, np.zeros(10, bool), np.ones(10, np.float32), 5, "rot4", 0, seed=1)
    seen = set()
    for _ in range(8):         # 8 batches of 5 = 4 rotations of 10 boxes
        b = sampler.next_batch().x[..., 0]
        for box in b:
            value = int(box[1, 1])
            corner = [tuple(c) for c in np.argwhere(box > 99)][0]
            seen.add((value, corner))
    assert len(seen) == 40     # each of 10 boxes in each of the 4 rotations
    with pytest.raises(ValueError, match="augmentation"):
        BatchSampler(x, np.zeros(10, bool), np.ones(10, np.float32), 5, "r90", 0, seed=1)
