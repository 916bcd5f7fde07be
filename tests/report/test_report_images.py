"""Pictures for the reports: shrunk micrographs and box grids (unpicker/report/images.py)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import unpicker.report.images as images
from unpicker.report.images import (BOX_VIEW_PX, VIEW_PX, block_mean, box_tiles, grey_view, micrograph_view,
                                    shrink_factor, view_factor, view_info)


@pytest.mark.parametrize("f", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("shape", [(40, 60), (41, 67), (13, 9)])
def test_block_mean_is_the_mean_of_each_whole_block(f, shape):
    image = np.random.default_rng(f).normal(size=shape).astype(np.float32)
    ny, nx = shape[0] // f * f, shape[1] // f * f
    expected = image[:ny, :nx].reshape(ny // f, f, nx // f, f).mean(axis=(1, 3))
    np.testing.assert_allclose(block_mean(image, f), expected, rtol=0, atol=1e-5)


def test_shrink_factor_is_the_smallest_that_fits():
    assert shrink_factor((100, 250), 100) == 3
    assert shrink_factor((250, 100), 250) == 1
    assert shrink_factor((4096, 4096), 2048) == 2


def test_the_view_keeps_the_picture_within_bounds_and_each_box_wide_enough():
    assert view_factor((4096, 4096), 100) == 2                 # the size bound
    assert view_factor((4096, 5760), 100) == 3
    assert view_factor((4096, 4096), 250) == 3                 # a 250-px box stays 83 px wide
    assert view_factor((1024, 1024), 3 * BOX_VIEW_PX) == 3
    assert view_factor((2048, 2048), 90) == 1                  # small boxes: the whole micrograph
    for box in range(1, 1000, 37):
        f = view_factor((4096, 4096), box)
        assert 4096 // f <= VIEW_PX and (box / f >= BOX_VIEW_PX or f == shrink_factor((4096, 4096), VIEW_PX))


@pytest.mark.parametrize("f", [1, 2, 3])
@pytest.mark.parametrize("shape", [(300, 310), (41, 67), (1100, 530)])
def test_grey_view_stretches_the_block_means_percentiles_chunk_by_chunk(f, shape, monkeypatch):
    monkeypatch.setattr(images, "CHUNK_ROWS", 7)       # several chunks, the last one short
    image = (np.random.default_rng(f).normal(size=shape) * 50).astype(np.int16)     # as an MRC file may hold
    grey = grey_view(image, f)
    ny, nx = shape[0] // f, shape[1] // f
    view = image[:ny * f, :nx * f].astype(np.float64).reshape(ny, f, nx, f).mean(axis=(1, 3))
    lo, hi = np.percentile(view[::max(1, ny // 256), ::max(1, nx // 256)], [1, 99])
    expected = np.clip((view - lo) * (255 / (hi - lo)), 0, 255)
    assert grey.dtype == np.uint8 and grey.shape == (ny, nx)
    assert np.abs(grey - expected).max() <= 1.0        # float32 sums, truncated to whole grey levels
    assert (grey == 0).mean() == pytest.approx(0.01, abs=0.01) and (grey == 255).mean() == pytest.approx(0.01, abs=0.01)


def test_a_micrographs_picture_keeps_its_orientation_and_size(tmp_path):
    ny, nx = 2 * VIEW_PX - 2, VIEW_PX + 5      # factor 2; the last row and column of odd blocks dropped
    image = np.zeros((ny, nx), np.float32)
    image[:ny // 4, :nx // 4] = 10.0           # a bright top-left corner (row 0 is the picture's top)
    info = micrograph_view(image, tmp_path, "m", 32)
    assert info == view_info(image.shape, "m", 32)
    assert (info["factor"], info["height"], info["width"]) == (2, ny // 2, nx // 2)
    picture = np.asarray(Image.open(tmp_path / info["view"]))
    assert picture.shape == (ny // 2, nx // 2)
    assert picture[2, 2] > 200 and picture[-3, -3] < 50


def test_box_tiles_lays_boxes_out_in_rows(tmp_path):
    boxes = np.stack([np.full((6, 6), v, np.float32) for v in (-3.0, 0.0, 3.0)])
    box_tiles(boxes, tmp_path / "g.png", columns=2)
    grid = np.asarray(Image.open(tmp_path / "g.png"))
    assert grid.shape == (2 * 8, 2 * 8)
    assert grid[1, 1] == 0 and grid[1, 9] == 127 and grid[9, 1] == 255
