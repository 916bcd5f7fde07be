"""The rules every command's outputs are checked by before anything is written (unpicker/guard.py)."""
from __future__ import annotations

import os

import mrcfile
import numpy as np
import pytest

from unpicker.formats.star import format_loop_block, with_marker
from unpicker.guard import (MODEL, PLOT, TRAINING, UNPICKED, Output, OutputConflict, check_outputs, kind_of,
                            roles_of)

PICKS = format_loop_block("", ["rlnCoordinateX", "rlnCoordinateY"], [["1", "2"]])


@pytest.fixture
def folder(tmp_path):
    with mrcfile.new(tmp_path / "mic.mrc") as mrc:
        mrc.set_data(np.zeros((8, 8), np.float32))
    (tmp_path / "mic_autopick.star").write_text(PICKS)
    (tmp_path / "mic_unpick.star").write_text(with_marker(PICKS, UNPICKED))
    (tmp_path / "mic_train.star").write_text(with_marker(PICKS, TRAINING))
    return tmp_path


def test_an_output_is_never_an_input_even_with_overwrite(folder):
    inputs = [(folder / "mic_autopick.star", "the coordinate file"), (folder / "mic.mrc", "the micrograph")]
    for target in ("mic_autopick.star", "./mic.mrc"):
        with pytest.raises(OutputConflict, match="an input of this run"):
            check_outputs([Output(folder / target, "the unpicked picks", UNPICKED)], inputs, overwrite=True)
    # a symbolic link to an input is that input
    os.symlink(folder / "mic_autopick.star", folder / "link.star")
    with pytest.raises(OutputConflict, match="mic_autopick.star .the coordinate file."):
        check_outputs([Output(folder / "link.star", "the unpicked picks", UNPICKED)], inputs, overwrite=True)


def test_two_outputs_may_not_be_one_file(folder):
    outputs = [Output(folder / "a.star", "the unpicked picks", UNPICKED),
               Output(folder / "sub" / ".." / "a.star", "the removed picks", UNPICKED)]
    (folder / "sub").mkdir()
    with pytest.raises(OutputConflict, match="written twice, as the unpicked picks and as the removed picks"):
        check_outputs(outputs, [])


def test_existing_files_are_replaced_only_when_ours_in_the_same_role(folder):
    check_outputs([Output(folder / "mic_unpick.star", "the unpicked picks", UNPICKED)], [])   # ours: fine
    # the user's coordinate file (a cleaned copy, say): never, even with --overwrite
    (folder / "mic_correct.star").write_text(PICKS)
    out = [Output(folder / "mic_correct.star", "the unpicked picks", UNPICKED)]
    with pytest.raises(OutputConflict, match="a coordinate file that emUnpicker did not write: choose another"):
        check_outputs(out, [], overwrite=True)
    # another STAR file (no picks in it): only with --overwrite
    (folder / "other.star").write_text("data_\n_rlnImageSize 64\n")
    out = [Output(folder / "other.star", "the unpicked picks", UNPICKED)]
    with pytest.raises(OutputConflict, match="a STAR file that emUnpicker did not write.*--overwrite"):
        check_outputs(out, [])
    check_outputs(out, [], overwrite=True)
    # our training file where unpicked picks would go, a micrograph, a folder: never
    for name, match in (("mic_train.star", "emUnpicker's training file"), ("mic.mrc", "a micrograph"),
                        ("sub", "is a folder")):
        (folder / "sub").mkdir(exist_ok=True)
        with pytest.raises(OutputConflict, match=match):
            check_outputs([Output(folder / name, "the unpicked picks", UNPICKED)], [], overwrite=True)
    # files written before markers: recognised by emUnpicker's columns
    legacy = format_loop_block("", ["rlnCoordinateX", "rlnCoordinateY", "unpickerScore"], [["1", "2", "0.5"]])
    (folder / "old_unpick.star").write_text(legacy)
    assert roles_of(folder / "old_unpick.star", "picks")[0] == UNPICKED
    check_outputs([Output(folder / "old_unpick.star", "the unpicked picks", UNPICKED)], [])


def test_kinds_and_our_other_outputs_are_recognised(folder, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from unpicker.outputs import plot_score_histogram

    plot_score_histogram(np.array([0.1, 0.9]), 0.5, folder / "ours.png")
    plt.figure().savefig(folder / "theirs.png")
    assert kind_of(folder / "ours.png") == "png" and roles_of(folder / "ours.png", "png") == (PLOT,)
    assert roles_of(folder / "theirs.png", "png") == ()
    assert kind_of(folder / "mic.mrc") == "mrc" and kind_of(folder / "mic_autopick.star") == "picks"
    (folder / "m.out").write_text('{"format": "emUnpicker model 1"}')
    assert kind_of(folder / "m.out") == "model" and roles_of(folder / "m.out", "model") == (MODEL,)
    check_outputs([Output(folder / "ours.png", "the histogram", PLOT)], [])
    with pytest.raises(OutputConflict, match="a PNG image that emUnpicker did not write"):
        check_outputs([Output(folder / "theirs.png", "the histogram", PLOT)], [])
