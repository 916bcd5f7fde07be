"""Dihedral symmetries and shifts of boxes (unpicker/images/augment.py)."""
from __future__ import annotations

import numpy as np

from unpicker.images.augment import default_shift_px, dihedral, shift_boxes


def test_rotations_and_dihedral_group():
    box = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    for k in range(4):
        np.testing.assert_array_equal(dihedral(box, k)[0], np.rot90(box[0], k))
        np.testing.assert_array_equal(dihedral(box, k + 4)[0], np.rot90(box[0, :, ::-1], k))
    assert len({dihedral(box, k).tobytes() for k in range(8)}) == 8
    per_box = dihedral(np.repeat(box, 3, 0), np.array([0, 1, 5]))
    np.testing.assert_array_equal(per_box[2], np.rot90(box[0, :, ::-1], 1))


def test_shift_boxes_moves_each_box_by_its_own_shift_and_fills_with_zero():
    rng = np.random.default_rng(0)
    boxes = rng.normal(size=(4, 6, 6)).astype(np.float32) + 5   # no zeros of its own
    shifts = np.array([[0, 0], [2, 0], [0, -1], [-2, 3]])
    out = shift_boxes(boxes, shifts)
    assert out.shape == boxes.shape and out.dtype == boxes.dtype
    for i, (dy, dx) in enumerate(shifts):
        for y in range(6):
            for x in range(6):
                inside = 0 <= y + dy < 6 and 0 <= x + dx < 6
                assert out[i, y, x] == (boxes[i, y + dy, x + dx] if inside else 0)
    assert not np.shares_memory(shift_boxes(boxes, np.zeros((4, 2), int)), boxes)
    assert [default_shift_px(s) for s in (2, 8, 16, 32, 48, 64)] == [0, 0, 1, 2, 3, 4]
