"""Matching autopicks with the user's cleaned copies, and reading training files (unpicker/labels.py)."""
from __future__ import annotations

import numpy as np

from unpicker.labels import match_picks, read_training_file

COLUMNS = ["rlnCoordinateX", "rlnCoordinateY", "rlnClassNumber", "rlnAutopickFigureOfMerit", "rlnAnglePsi"]


def test_match_distance_tolerance():
    auto = np.array([[10.0, 10.0], [50.0, 50.0]])
    kept, added = match_picks(auto, np.array([[10.9, 10.0], [52.0, 50.0]]), 1.0)
    assert kept.tolist() == [True, False] and added.tolist() == [False, True]
    kept, added = match_picks(auto, np.array([[52.0, 50.0]]), 3.0)
    assert kept.tolist() == [False, True] and not added.any()


def test_reads_the_original_scripts_training_files(tmp_path):
    header = "\ndata_\n\nloop_\n" + "".join(f"_{c} #{i + 1}\n" for i, c in enumerate(COLUMNS))
    rows = " 100.000000 200.000000 1 0.5 -999.00000 P\n 300.000000 400.000000 1 0.2 -999.00000 N\n"
    p = tmp_path / "old_autopick_train.star"
    p.write_text(header + rows)
    t = read_training_file(p)
    np.testing.assert_array_equal(t.xy, [[100, 200], [300, 400]])
    assert t.is_particle.tolist() == [True, False]


def test_identical_picks_kept_in_the_cleaned_copy_are_both_kept():
    auto = np.array([[10.0, 10.0], [10.0, 10.0], [40.0, 40.0]])
    kept, added = match_picks(auto, np.array([[10.0, 10.0], [10.0, 10.0], [40.0, 40.0]]), 1.0)
    assert kept.all() and not added.any()
    # one of two identical picks removed by the user (a duplicate): one kept, one removed
    kept, added = match_picks(auto, np.array([[10.0, 10.0], [40.0, 40.0]]), 1.0)
    assert kept.tolist() == [True, False, True] and not added.any()
    # closest pairs first: a cleaned pick between two autopicks takes the nearer
    kept, _ = match_picks(np.array([[0.0, 0.0], [1.5, 0.0]]), np.array([[1.0, 0.0], [0.2, 0.0]]), 1.0)
    assert kept.tolist() == [True, True]
