"""trainingSetFromStarFiles.py on generated autopick / cleaned files."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from unpicker.commands.training_set import main
from unpicker.formats.star import format_loop_block, parse_star
from unpicker.labels import LABEL_COLUMN, read_training_file

COLUMNS = ["rlnCoordinateX", "rlnCoordinateY", "rlnClassNumber", "rlnAutopickFigureOfMerit", "rlnAnglePsi"]


def write_picks(path, xy, fmt="%.6f", columns=COLUMNS):
    rows = []
    for i, (x, y) in enumerate(xy):
        values = {"rlnCoordinateX": fmt % x, "rlnCoordinateY": fmt % y, "rlnClassNumber": "1",
                  "rlnAutopickFigureOfMerit": f"{0.1 * i:.6f}", "rlnAnglePsi": "-999.00000"}
        rows.append([values[c] for c in columns])
    path.write_text(format_loop_block("", columns, rows))


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    auto = rng.uniform(100, 3900, size=(40, 2)).round()
    write_picks(tmp_path / "mic1_autopick.star", auto)
    # the user kept picks 0..24 and re-saved with another number format
    write_picks(tmp_path / "mic1_autopick_correct.star", auto[:25], fmt="%.1f")
    # mic2: kept 10 of 20, moved two by 0.4 px, added one by hand
    auto2 = rng.uniform(100, 3900, size=(20, 2)).round()
    write_picks(tmp_path / "mic2_autopick.star", auto2)
    kept2 = auto2[:10].copy()
    kept2[:2] += 0.4
    write_picks(tmp_path / "mic2_autopick_correct.star", np.vstack([kept2, [[5.0, 7.0]]]))
    # mic3: never reviewed (identical copy)
    auto3 = rng.uniform(100, 3900, size=(8, 2)).round()
    write_picks(tmp_path / "mic3_autopick.star", auto3)
    write_picks(tmp_path / "mic3_autopick_correct.star", auto3)
    return tmp_path


def run(folder, *extra):
    return main(["_autopick.star", "_autopick_correct.star", "_autopick_train.star", "--dir", str(folder), *extra])


def test_labels_every_pick_once(folder, capsys):
    assert run(folder) == 0
    out = capsys.readouterr().out
    t1 = read_training_file(folder / "mic1_autopick_train.star")
    assert t1.is_particle.tolist() == [True] * 25 + [False] * 15
    t2 = read_training_file(folder / "mic2_autopick_train.star")
    assert t2.is_particle.sum() == 11 and (~t2.is_particle).sum() == 10
    np.testing.assert_array_equal(t2.xy[-1], [5.0, 7.0])   # the hand-added pick, labelled P
    assert "mic1: 25 P, 15 N" in out and "mic2: 11 P, 10 N (1 added by hand)" in out
    assert "mic3: No unpicks in that file! Can't use for training" in out
    assert not (folder / "mic3_autopick_train.star").exists()
    assert "Total: 2 micrographs, 36 P, 25 N" in out


def test_output_keeps_every_column_and_the_original_text(folder):
    run(folder)
    src = (folder / "mic1_autopick.star").read_text().splitlines()
    out = parse_star((folder / "mic1_autopick_train.star").read_text())
    b = out.blocks[0]
    assert b.columns == COLUMNS + [LABEL_COLUMN]
    row_texts = [line for line in src if line and line[0].isdigit()]
    assert [" ".join(r[:-1]) for r in b.rows] == row_texts


def test_keep_unreviewed(folder):
    assert run(folder, "--keep_unreviewed") == 0
    assert read_training_file(folder / "mic3_autopick_train.star").is_particle.all()


def test_missing_and_unreadable_files_are_reported_and_others_processed(folder, capsys):
    (folder / "mic4_autopick_correct.star").write_text((folder / "mic1_autopick.star").read_text())
    (folder / "mic5_autopick.star").write_text("data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n1 x\n")
    (folder / "mic5_autopick_correct.star").write_text("data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n1 2\n")
    assert run(folder) == 1
    err = capsys.readouterr().err
    assert "mic4" in err and "mic4_autopick.star" in err
    assert "mic5_autopick.star:5: _rlnCoordinateY is not a number: 'x'" in err
    assert (folder / "mic1_autopick_train.star").exists()
    assert not (folder / "mic5_autopick_train.star").exists()


def test_refuses_to_overwrite_inputs(folder):
    assert main(["_autopick.star", "_autopick_correct.star", "_autopick.star", "--dir", str(folder)]) == 2


def test_script_without_arguments_prints_usage_and_fails(tmp_path):
    script = ROOT / "trainingSetFromStarFiles.py"
    assert os.access(script, os.X_OK)
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0 and "Usage: trainingSetFromStarFiles.py" in r.stdout


def test_script_runs_in_the_micrographs_folder(folder):
    r = subprocess.run([sys.executable, str(ROOT / "trainingSetFromStarFiles.py"), "_autopick.star",
                        "_autopick_correct.star", "_autopick_train.star"], capture_output=True, text=True, cwd=folder)
    assert r.returncode == 0, r.stderr
    assert (folder / "mic2_autopick_train.star").exists()
