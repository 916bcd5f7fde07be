"""The demo generator: the truth of its picks and its difficulty levels."""
import numpy as np
import pytest

from unpicker.demo import DemoConfig, truth_of_picks, write_demo
from unpicker.formats.star import read_star


def test_truth_marks_one_pick_per_particle():
    particles = np.array([[100.0, 100.0], [300.0, 300.0]])
    picks = np.array([[103.0, 100.0],    # on the first particle
                      [100.0, 106.0],    # a second, farther pick on it: a duplicate
                      [300.0, 308.0],    # on the second, within a quarter diameter (9 px)
                      [300.0, 311.0],    # beyond a quarter diameter
                      [500.0, 500.0]])   # in a gap
    assert truth_of_picks(picks, particles, 36).tolist() == [True, False, True, False, False]


def test_truth_without_particles_or_picks():
    assert truth_of_picks(np.zeros((3, 2)), np.zeros((0, 2)), 36).tolist() == [False] * 3
    assert truth_of_picks(np.zeros((0, 2)), np.ones((2, 2)), 36).shape == (0,)


def test_lowsnr_is_noisier_and_overpicked_compared_with_hard(tmp_path):
    hard, low = DemoConfig.level("hard"), DemoConfig.level("lowsnr")
    assert low.snr < hard.snr / 2 and low.pick_spacing < hard.pick_spacing and low.overpick > hard.overpick
    counts = {}
    for level in ("hard", "lowsnr"):
        names = write_demo(tmp_path / level, n_micrographs=1, n_cleaned=0, level=level, seed=3, size_px=512)
        truth = read_star(tmp_path / level / f"{names[0]}_truth.star").blocks[0].column("demoTruth")
        counts[level] = (len(truth), truth.count("P"))
    assert counts["lowsnr"][0] > counts["hard"][0]                       # more picks
    assert counts["lowsnr"][1] / counts["lowsnr"][0] < counts["hard"][1] / counts["hard"][0]   # a smaller share true


def test_unknown_level_is_refused():
    with pytest.raises(ValueError, match="lowsnr"):
        DemoConfig.level("impossible")
