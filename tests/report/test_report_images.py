"""Pictures for the reports: shrunk micrographs and box grids (unpicker/report/images.py)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from unpicker.report.images import VIEW_PX, block_mean, box_tiles, micrograph_view, shrink, view_info


@pytest.mark.parametrize("f", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("shape", [(40, 60), (41, 67), (13, 9)])
def test_block_mean_is_the_mean_of_each_whole_block(f, shape):
    image = np.random.default_rng(f).normal(size=shape).astype(np.float32)
    ny, nx = shape[0] // f * f, shape[1] // f * f
    expected = image[:ny, :nx].reshape(ny // f, f, nx // f, f).mean(axis=(1, 3))
    np.testing.assert_allclose(block_mean(image, f), expected, rtol=0, atol=1e-5)


def test_shrink_takes_the_smallest_factor_that_fits():
    image = np.zeros((100, 250), np.float32)
    view, f = shrink(image, 100)
    assert f == 3 and view.shape == (33, 83)
    assert shrink(image, 250)[1] == 1


def test_a_micrographs_picture_keeps_its_orientation_and_size(tmp_path):
    ny, nx = 2 * VIEW_PX - 2, VIEW_PX + 5      # factor 2; the last row and column of odd blocks dropped
    image = np.zeros((ny, nx), np.float32)
    image[:ny // 4, :nx // 4] = 10.0           # a bright top-left corner (row 0 is the picture's top)
    info = micrograph_view(image, tmp_path, "m")
    assert info == view_info(image.shape, "m")
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
