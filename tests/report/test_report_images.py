"""Pictures for the reports: shrunk micrographs and box grids (unpicker/report/images.py)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from unpicker.report.images import DETAIL_PX, VIEW_PX, block_mean, box_tiles, micrograph_views, shrink


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


def test_views_of_a_micrograph_keep_its_orientation_and_sizes(tmp_path):
    ny, nx = 2 * DETAIL_PX - 2, 3 * VIEW_PX + 5      # factors 2 (detail) and 4 (view): view made from the detail
    image = np.zeros((ny, nx), np.float32)
    image[:ny // 4, :nx // 4] = 10.0               # a bright top-left corner (row 0 is the picture's top)
    info = micrograph_views(image, tmp_path, "m")
    assert (info["factor"], info["detail_factor"]) == (4, 2)
    for key, f in (("view", 4), ("detail", 2)):
        picture = np.asarray(Image.open(tmp_path / info[key]))
        assert picture.shape == (ny // f, nx // f)
        assert picture[2, 2] > 200 and picture[-3, -3] < 50
    assert (info["height"], info["width"]) == (ny // 4, nx // 4)
    # the view averaged from the detail holds the same block means as averaged from the micrograph
    np.testing.assert_allclose(block_mean(block_mean(image, 2), 2), block_mean(image, 4), atol=1e-5)


def test_box_tiles_lays_boxes_out_in_rows(tmp_path):
    boxes = np.stack([np.full((6, 6), v, np.float32) for v in (-3.0, 0.0, 3.0)])
    box_tiles(boxes, tmp_path / "g.png", columns=2)
    grid = np.asarray(Image.open(tmp_path / "g.png"))
    assert grid.shape == (2 * 8, 2 * 8)
    assert grid[1, 1] == 0 and grid[1, 9] == 127 and grid[9, 1] == 255
