"""The commands on other pickers' files: the same picks, whatever the format,
give the same labels and the same unpicked picks and scores as RELION STAR
files do, written back in the picker's own format."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import inside, run_eval
from unpicker.commands import training_set
from unpicker.formats.picks import CoordinateOptions, read_coordinates
from unpicker.formats.relion import read_picks
from unpicker.formats.star import read_star
from unpicker.labels import read_training_file

BOX = 54


def _star_picks(path):
    block = read_star(path).blocks[-1]
    xy = np.stack([block.floats("rlnCoordinateX"), block.floats("rlnCoordinateY")], 1)
    return xy, block.floats("rlnAutopickFigureOfMerit")


def _write_cbox(path, xy, fom):
    rows = "".join(f"{x - BOX / 2:.6f} {y - BOX / 2:.6f} <NA> {BOX}.0 {BOX}.0 <NA> <NA> <NA> {f:.6f} <NA> <NA>\n"
                   for (x, y), f in zip(xy, fom))
    path.write_text("\ndata_global\n\n_cbox_format_version 1.0\n\ndata_cryolo\n\nloop_\n_CoordinateX #1\n"
                    "_CoordinateY #2\n_CoordinateZ #3\n_Width #4\n_Height #5\n_Depth #6\n_EstWidth #7\n_EstHeight #8\n"
                    "_Confidence #9\n_NumBoxes #10\n_Angle #11\n" + rows)


def _write_box(path, xy, fom):
    path.write_text("".join(f"{x - BOX / 2:g}\t{y - BOX / 2:g}\t{BOX}\t{BOX}\t{f:g}\n" for (x, y), f in zip(xy, fom)))


@pytest.fixture(scope="module")
def formats_folder(trained, tmp_path_factory):
    """The trained folder's last three micrographs, their picks in every format."""
    folder, names, _ = trained
    work = tmp_path_factory.mktemp("formats")
    for f in folder.iterdir():
        if f.is_file() and not f.name.startswith("unpickModel.out-") and (
                f.name.startswith("unpickModel") or any(f.name.startswith(n) for n in names[3:])):
            shutil.copy(f, work)
    for sub in ("CBOX", "EMAN", "info"):
        (work / sub).mkdir()
    topaz = ["image_name\tx_coord\ty_coord\tscore"]
    for name in names[3:]:
        xy, fom = _star_picks(work / f"{name}_autopick.star")
        _write_cbox(work / "CBOX" / f"{name}.cbox", xy, fom)
        _write_box(work / "EMAN" / f"{name}.box", xy, fom)
        (work / "info" / f"{name}_info.json").write_text(json.dumps(
            {"boxes": [[float(x), float(y), "auto", float(f)] for (x, y), f in zip(xy, fom)]}))
        topaz += [f"{name}\t{x / 2:g}\t{y / 2:g}\t{f:g}" for (x, y), f in zip(xy, fom)]   # picked at half size
    (work / "topaz_picks.txt").write_text("\n".join(topaz) + "\n")
    from cryosparc.dataset import Dataset

    rows = [(name, xy) for name in names[3:] for xy in _star_picks(work / f"{name}_autopick.star")[0]]
    ds = Dataset.allocate(len(rows), [("location/micrograph_path", "O"), ("location/center_x_frac", "f8"),
                                      ("location/center_y_frac", "f8"), ("location/micrograph_shape", "u4", (2,))])
    ds["location/micrograph_path"] = np.array([f"J3/{n}.mrc" for n, _ in rows], dtype=object)
    ds["location/center_x_frac"] = np.array([xy[0] / 512 for _, xy in rows])
    ds["location/center_y_frac"] = np.array([xy[1] / 512 for _, xy in rows])
    ds["location/micrograph_shape"] = np.tile([[512, 512]], (len(rows), 1))
    (work / "P1" / "J3").mkdir(parents=True)
    for name in names[3:]:
        shutil.copy(work / f"{name}.mrc", work / "P1" / "J3")
    ds.save(work / "picked.cs")
    assert run_eval(work, "--train_output", "unpickModel.out", "--threshold", "0.5", "--histogram", "") == 0
    return work, names[3:]


def _reference(work, names):
    """Each micrograph's picks, score by centre, from the RELION route."""
    out = {}
    for name in names:
        picks = read_picks(work / f"{name}_autopick_unpick.star")
        scores = picks.block.floats("unpickerScore")
        out[name] = {(round(x, 1), round(y, 1)): s for (x, y), s in zip(picks.xy, scores)}
    return out


def _check(reference, picks, scores):
    """The kept picks are the RELION route's, with its scores (0.002: float32 fractions move a centre slightly)."""
    got = {(round(x, 1), round(y, 1)): s for (x, y), s in zip(picks.xy, scores)}
    assert set(got) == set(reference), (sorted(set(got) ^ set(reference))[:5])
    np.testing.assert_allclose([got[k] for k in reference], list(reference.values()), atol=0.002)


@pytest.mark.parametrize("root, fmt", [("CBOX/.cbox", "cbox"), ("EMAN/.box", "box"), ("info/_info.json", "eman2")])
def test_one_file_per_micrograph_formats_unpick_as_star_does(formats_folder, root, fmt):
    work, names = formats_folder
    reference = _reference(work, names)
    assert run_eval(work, "--train_output", "unpickModel.out", "--threshold", "0.5", "--histogram", "",
                    "--eval_root", root) == 0
    folder, suffix = root.split("/")
    out_suffix = {"cbox": "_unpick.cbox", "box": "_unpick.box", "eman2": "_unpick_info.json"}[fmt]
    for name in names:
        (picks,) = read_coordinates(work / folder / f"{name}{out_suffix}", name=name)
        assert picks.format == fmt
        _check(reference[name], picks, picks.fom if fmt != "eman2" else np.array(picks.record["unpicker_scores"]))


def test_topaz_and_cryosparc_files_unpick_as_star_does(formats_folder):
    work, names = formats_folder
    reference = _reference(work, names)
    assert run_eval(work, "--train_output", "unpickModel.out", "--threshold", "0.5", "--histogram", "",
                    "--eval_file", "topaz_picks.txt", "--coord_scale", "2") == 0
    for picks in read_coordinates(work / "topaz_picks_unpick.txt", CoordinateOptions(coord_scale=2)):
        _check(reference[picks.micrograph], picks, picks.fom)
    assert run_eval(work, "--train_output", "unpickModel.out", "--threshold", "0.5", "--histogram", "",
                    "--eval_file", "picked.cs", "--cs_project_dir", "P1") == 0
    from cryosparc.dataset import Dataset

    out = Dataset.load(work / "picked_unpick.cs")
    for picks in read_coordinates(work / "picked_unpick.cs"):
        name = picks.micrograph
        rows = np.array([str(p).endswith(f"{name}.mrc") for p in out["location/micrograph_path"]])
        _check(reference[name], picks, np.asarray(out["unpicker/score"])[rows])
    # --output_format star: RELION files and a list, from any picker's file
    assert run_eval(work, "--train_output", "unpickModel.out", "--threshold", "0.5", "--histogram", "",
                    "--eval_file", "topaz_picks.txt", "--coord_scale", "2", "--output_format", "star") == 0
    listed = read_star(work / "topaz_picks_unpick.star").block("coordinate_files")
    assert [r[1] for r in listed.rows] == [f"{n}_unpick.star" for n in names]
    for name in names:
        picks = read_picks(work / f"{name}_unpick.star")
        _check(reference[name], picks, picks.block.floats("unpickerScore"))


def test_training_sets_from_other_pickers_files_label_as_star_does(formats_folder, tmp_path):
    work, names = formats_folder
    (tmp_path / "CBOX").mkdir()
    (tmp_path / "CBOX_cleaned").mkdir()
    for name in names:
        xy, fom = _star_picks(work / f"{name}_autopick.star")
        _write_cbox(tmp_path / "CBOX" / f"{name}.cbox", xy, fom)
        kept = np.arange(len(xy)) % 3 != 0            # the user removed every third pick
        _write_cbox(tmp_path / "CBOX_cleaned" / f"{name}.cbox", xy[kept], fom[kept])
    with inside(tmp_path):
        assert training_set.main(["CBOX/.cbox", "CBOX_cleaned/.cbox", "_train.star"]) == 0
    for name in names:
        t = read_training_file(tmp_path / f"{name}_train.star")
        xy, _ = _star_picks(work / f"{name}_autopick.star")
        np.testing.assert_allclose(t.xy, xy, atol=0.01)
        np.testing.assert_array_equal(t.is_particle, np.arange(len(xy)) % 3 != 0)


def test_cryosparc_labels_by_uid_and_rejected_sets(tmp_path):
    from cryosparc.dataset import Dataset

    n = 6
    ds = Dataset.allocate(n, [("location/micrograph_path", "O"), ("location/center_x_frac", "f4"),
                              ("location/center_y_frac", "f4"), ("location/micrograph_shape", "u4", (2,))])
    ds["location/micrograph_path"] = np.array(["J1/a.mrc"] * n, dtype=object)
    ds["location/center_x_frac"] = np.linspace(0.1, 0.6, n)
    ds["location/center_y_frac"] = 0.5
    ds["location/micrograph_shape"] = np.tile([[1000, 1000]], (n, 1))
    ds.save(tmp_path / "picks.cs")
    ds.take([0, 1, 2]).save(tmp_path / "accepted.cs")         # matched by uid, not position
    ds.take([3, 4]).save(tmp_path / "rejected.cs")
    with inside(tmp_path):
        assert training_set.main(["picks.cs", "accepted.cs", "_train.star"]) == 0
        t = read_training_file(tmp_path / "a_train.star")
        assert t.is_particle.tolist() == [True, True, True, False, False, False]
        assert training_set.main(["picks.cs", "accepted.cs", "_train2.star", "--rejected", "rejected.cs"]) == 0
        t = read_training_file(tmp_path / "a_train2.star")            # pick 5 was not reviewed: left out
        assert t.is_particle.tolist() == [True, True, True, False, False]
    listed = read_star(tmp_path / "picks_train.star").block("coordinate_files")
    assert listed.rows == [["J1/a.mrc", "a_train.star"]]
