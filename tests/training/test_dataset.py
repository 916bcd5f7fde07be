"""The training set's boxes and validation split (unpicker/training/dataset.py)."""
from __future__ import annotations

import numpy as np

from conftest import make_training_files
from unpicker.demo import write_demo
from unpicker.formats.mrc import read_micrograph
from unpicker.images.boxes import micrograph_boxes
from unpicker.images.preprocess import Preprocessing
from unpicker.labels import read_training_file
from unpicker.training.dataset import TrainingSet, extract_training_set, split_by_micrograph


def test_every_labelled_pick_gives_one_box_and_picks_outside_are_named(tmp_path):
    names = write_demo(tmp_path, n_micrographs=2, n_cleaned=2, level="easy", seed=3, size_px=256)
    assert make_training_files(tmp_path) == 0
    items = [(n, tmp_path / f"{n}.mrc", read_training_file(tmp_path / f"{n}_autopick_train.star")) for n in names]
    settings = Preprocessing(boxsize_px=30, resized_px=16)
    ts = extract_training_set(items, settings, num_cores=2, progress=False)
    counts = [len(p.xy) for _, _, p in items]
    assert ts.boxes.shape == (sum(counts), 16, 16) and ts.names == names
    np.testing.assert_array_equal(ts.micrograph, np.repeat([0, 1], counts))
    np.testing.assert_array_equal(ts.is_particle, np.concatenate([p.is_particle for _, _, p in items]))
    # the boxes are those the one shared path gives, micrograph by micrograph
    image, _ = read_micrograph(tmp_path / f"{names[1]}.mrc")
    np.testing.assert_array_equal(ts.boxes[counts[0]:], micrograph_boxes(image, items[1][2].xy, settings))
    assert ts.warnings == []
    # a pick outside its micrograph is cut (filled) and named with its training file and line
    picks = items[1][2]
    picks.xy[3] = (-5.0, 40.0)
    named = extract_training_set(items, settings, progress=False)
    assert len(named.boxes) == len(ts.boxes) and named.warnings == [
        f"{tmp_path / names[1]}_autopick_train.star: 1 of {len(picks.xy)} picks lie outside {names[1]}.mrc"
        f" (256 x 256 px), the first at line {picks.row_lines[3] + 1}: x -5, y 40. Are these coordinates for"
        " this micrograph, at its pixel size?"]


def test_validation_split_is_by_whole_micrograph():
    mic = np.repeat(np.arange(7), 10)
    ts = TrainingSet(np.zeros((70, 2, 2), np.float32), np.zeros(70, bool), mic, [f"m{i}" for i in range(7)])
    mask, names, _ = split_by_micrograph(ts, 0.2, seed=3)
    assert set(mic[mask]).isdisjoint(set(mic[~mask]))
    assert len(names) == 2 and mask.sum() == 20
    again, _, _ = split_by_micrograph(ts, 0.2, seed=3)
    assert np.array_equal(mask, again)
    one = TrainingSet(np.zeros((50, 2, 2), np.float32), np.zeros(50, bool), np.zeros(50, int), ["m"])
    mask, _, note = split_by_micrograph(one, 0.2, seed=0)
    assert 0 < mask.sum() < 50 and "only one training micrograph" in note
