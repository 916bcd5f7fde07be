"""Boxes cut around picks: position, resizing, edges, standardisation (unpicker/images/boxes.py)."""
from __future__ import annotations

import numpy as np
import pytest

from unpicker.images.boxes import extract_boxes, micrograph_boxes, normalise_boxes
from unpicker.images.preprocess import Preprocessing, preprocess_with_stats


def ramp(ny=100, nx=120):
    y, x = np.mgrid[0:ny, 0:nx]
    return (1000.0 * y + x).astype(np.float32)


def test_integer_pick_is_at_box_centre_and_x_is_column():
    img = ramp()
    box = extract_boxes(img, np.array([[60.0, 40.0]]), 10, 10)[0]
    assert box[5, 5] == img[40, 60]
    assert box[0, 0] == img[35, 55]
    assert box[5, 6] - box[5, 5] == 1.0      # x along columns


def test_fractional_coordinates_shift_the_box_continuously():
    img = ramp()
    a = extract_boxes(img, np.array([[60.0, 40.0]]), 10, 10)[0]
    b = extract_boxes(img, np.array([[60.25, 40.5]]), 10, 10)[0]
    # area averaging of a linear ramp shifts its values by exactly the offset
    np.testing.assert_allclose(b[1:-1, 1:-1] - a[1:-1, 1:-1], 0.25 + 500.0, rtol=0, atol=1e-2)


def test_resize_preserves_the_mean_and_antialiases():
    rng = np.random.default_rng(0)
    img = rng.normal(5.0, 1.0, size=(300, 300)).astype(np.float32)
    xy = np.array([[150.0, 150.0], [100.3, 120.7]])
    small = extract_boxes(img, xy, 100, 10)
    for box, (x, y) in zip(small, [(150, 150), (100, 121)]):
        assert box.mean() == pytest.approx(img[y - 50:y + 50, x - 50:x + 50].mean(), abs=0.02)
    # a checkerboard (the highest frequency) averages away instead of aliasing
    checker = np.indices((300, 300)).sum(0) % 2
    out = extract_boxes(checker.astype(np.float32), np.array([[150.0, 150.0]]), 100, 10)
    np.testing.assert_allclose(out, 0.5, atol=1e-5)


def test_edge_boxes_are_padded_not_dropped():
    img = np.ones((50, 50), np.float32)
    boxes = extract_boxes(img, np.array([[0.0, 0.0], [49.0, 25.0], [25.0, 25.0]]), 20, 20, fill=-1.0)
    assert boxes.shape == (3, 20, 20)
    assert boxes[0, 0, 0] == -1.0 and boxes[0, 15, 15] == 1.0
    assert boxes[1, 10, 0] == 1.0 and boxes[1, 10, 19] == -1.0
    assert (boxes[2] == 1.0).all()


def test_boxes_are_standardised_with_their_micrographs_statistics():
    rng = np.random.default_rng(0)
    boxes = rng.normal(3, 2, size=(5, 8, 8)).astype(np.float32)
    m = normalise_boxes(boxes.copy(), 3.0, 2.0)
    np.testing.assert_allclose(m, (boxes - 3) / 2, atol=1e-6)
    assert np.isfinite(normalise_boxes(boxes.copy(), 3.0, 0.0)).all()     # a blank micrograph divides by no zero


def test_pipeline_boxes_are_normalised_and_flipped_ctf_runs():
    rng = np.random.default_rng(0)
    img = rng.normal(size=(256, 200)).astype(np.float32)
    s = Preprocessing(boxsize_px=64, resized_px=16, apix=2.0, lowpass_A=10, highpass_A=200, sigma_contrast=3)
    xy = rng.uniform(0, 200, size=(7, 2))
    boxes = micrograph_boxes(img, xy, s)
    assert boxes.shape == (7, 16, 16) and np.isfinite(boxes).all()
    # the same as preprocessing, then cutting, then standardising with the micrograph's statistics
    processed, mean, sd = preprocess_with_stats(img, s)
    expected = (extract_boxes(processed, xy, 64, 16, fill=mean) - mean) / sd
    np.testing.assert_allclose(boxes, expected, rtol=1e-5, atol=1e-5)


def test_many_picks_are_cut_in_chunks_with_the_same_result(monkeypatch):
    from unpicker.images import boxes as boxes_module

    rng = np.random.default_rng(2)
    img = rng.normal(size=(200, 220)).astype(np.float32)
    xy = np.r_[rng.uniform(0, 220, size=(25, 2)), [[1.0, 1.0], [219.0, 150.0]]]   # two cross an edge
    whole = extract_boxes(img, xy, 40, 8)
    monkeypatch.setattr(boxes_module, "EXTRACT_CHUNK", 4)
    np.testing.assert_array_equal(extract_boxes(img, xy, 40, 8), whole)
