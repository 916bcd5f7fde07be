"""Other pickers' coordinate files, read and written back: crYOLO .cbox, EMAN
.box, Topaz tables, EMAN2 info files and cryoSPARC .cs (unpicker/formats)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import shared_path
from unpicker.formats.picks import (CoordinateError, CoordinateOptions, detect_format, format_names, get_format,
                                    read_coordinates)

BOXMANAGER = ("star", "coordinates", "napari_boxmanager")


def _roundtrip(fmt_name, path, tmp_path, opts=CoordinateOptions(), name=None):
    """Write the file's picks back with every other one kept and a score
    each; return (picks before, picks read back, kept mask, scores)."""
    before = read_coordinates(path, opts, name)
    fmt = get_format(fmt_name)
    results = []
    for picks in before:
        keep = np.arange(len(picks)) % 2 == 0
        prob = np.linspace(0.1, 0.9, len(picks))
        results.append((picks, keep, prob))
    out = tmp_path / ("out" + path.name[len(path.stem):] if fmt.per_micrograph else "out" + path.suffix)
    if fmt.per_micrograph:
        fmt.write(out, results, opts, "unpicked picks", "test")
    else:
        fmt.write(out, results, opts, "unpicked picks", "test")
    after = read_coordinates(out, opts, name)
    return before, after, results


def test_real_cbox_files_give_box_centres_and_round_trip(tmp_path):
    path = shared_path(*BOXMANAGER, "particle_cbox_2d_TcdA1-0018_frames_sum.cbox")
    (picks,) = read_coordinates(path)
    assert detect_format(path).name == "cbox" and len(picks) == 120
    # the first row: x 3700.3671875, y 3874.455551147461, width and height 220
    np.testing.assert_allclose(picks.xy[0], [3700.3671875 + 110, 3874.455551147461 + 110])
    assert picks.fom[0] == pytest.approx(0.6578449010848999)
    before, (after,), ((_, keep, prob),) = _roundtrip("cbox", path, tmp_path)
    np.testing.assert_allclose(after.xy, before[0].xy[keep], atol=0.01)
    np.testing.assert_allclose(after.fom, np.round(prob[keep], 4))                     # ours in _Confidence
    block = after.record[1]
    np.testing.assert_allclose(block.floats("unpickerPickerConfidence"), before[0].fom[keep])
    # the kept rows' coordinates keep their text
    source_rows = {tuple(r[:2]) for r in before[0].record[1].rows}
    assert all(tuple(r[:2]) in source_rows for r in block.rows)


def test_cbox_corner_cases(tmp_path):
    (empty,) = read_coordinates(shared_path(*BOXMANAGER, "filament_cbox_2d_empty.cbox"))
    assert len(empty) == 0
    (slice0,) = read_coordinates(shared_path(*BOXMANAGER, "2d_particles.cbox"))     # one slice, z = 0
    np.testing.assert_allclose(slice0.xy[0], [11.6877 + 12.5, 27.959892 + 12.5])
    with pytest.raises(CoordinateError, match="3d_particle.cbox: these are 3D picks"):
        read_coordinates(shared_path(*BOXMANAGER, "3d_particle.cbox"))
    p = tmp_path / "nan.cbox"
    p.write_text("data_cryolo\nloop_\n_CoordinateX\n_CoordinateY\n_Width\n_Height\n_Confidence\n1 2 10 10 0.5\n"
                 "<NA> 5 10 10 0.5\n")
    with pytest.raises(CoordinateError, match=r"nan.cbox:9: _CoordinateX is not a finite number: '<NA>'"):
        read_coordinates(p)
    old = tmp_path / "old.cbox"            # the older text .cbox: x y w h confidence
    old.write_text("10\t20\t100\t100\t0.7\n30\t40\t100\t100\t0.2\n")
    (picks,) = read_coordinates(old)
    np.testing.assert_allclose(picks.xy, [[60, 70], [80, 90]])
    np.testing.assert_allclose(picks.fom, [0.7, 0.2])


def test_real_box_files_and_their_errors(tmp_path):
    (left,) = read_coordinates(shared_path(*BOXMANAGER, "2d_left.box"))
    np.testing.assert_allclose(left.xy, [[24, 40], [36, 62], [78, 51]])       # corner + half the box
    (empty,) = read_coordinates(shared_path(*BOXMANAGER, "2d_empty.box"))
    assert len(empty) == 0
    with pytest.raises(CoordinateError, match=r"2d_corrupt_has_string.box:2: not a number: 'sixty_three'"):
        read_coordinates(shared_path(*BOXMANAGER, "2d_corrupt_has_string.box"))
    with pytest.raises(CoordinateError, match=r"2d_corrupt_unqual_columns.box:3: expected x y width height"):
        read_coordinates(shared_path(*BOXMANAGER, "2d_corrupt_unqual_columns.box"))


def test_empiar_picks_round_trip_through_box_files(tmp_path):
    path = next(shared_path("empiar10017", "picks", "topaz").glob("*.box"))
    before, (after,), ((_, keep, prob),) = _roundtrip("box", path, tmp_path)
    np.testing.assert_array_equal(after.xy, before[0].xy[keep])       # text kept: exact
    np.testing.assert_allclose(after.fom, np.round(prob[keep], 4))
    lines = (tmp_path / "out.box").read_text().splitlines()
    source = path.read_text().splitlines()
    assert lines[0].split()[:4] == source[0].split()[:4] and lines[0].split()[5] == source[0].split()[4]
    # coordinates on micrographs binned 2x: --coord_scale 0.5
    (half,) = read_coordinates(path, CoordinateOptions(coord_scale=0.5))
    np.testing.assert_allclose(half.xy, before[0].xy / 2)


def _topaz(tmp_path):
    p = tmp_path / "particles.txt"
    p.write_text("image_name\tx_coord\ty_coord\tscore\n"
                 "mic_a\t100\t200\t3.5\nmic_b\t10\t20\t-1.25\nmic_a\t300\t400\t0.5\nmic_a\t12\t14\t-2\n")
    return p


def test_topaz_tables_hold_every_micrograph_and_keep_their_columns(tmp_path):
    path = _topaz(tmp_path)
    assert detect_format(path).name == "topaz"
    a, b = read_coordinates(path, CoordinateOptions(coord_scale=4))
    assert (a.micrograph, b.micrograph) == ("mic_a", "mic_b") and a.row_lines == [1, 3, 4]
    np.testing.assert_allclose(a.xy, [[400, 800], [1200, 1600], [48, 56]])     # scaled to micrograph pixels
    np.testing.assert_allclose(a.fom, [3.5, 0.5, -2])
    before, after, results = _roundtrip("topaz", path, tmp_path, CoordinateOptions(coord_scale=4))
    text = (tmp_path / "out.txt").read_text().splitlines()
    assert text[0].split("\t") == ["image_name", "x_coord", "y_coord", "score", "picker_score"]
    assert text[1:] == ["mic_a\t100\t200\t0.1000\t3.5", "mic_a\t12\t14\t0.9000\t-2", "mic_b\t10\t20\t0.1000\t-1.25"]
    np.testing.assert_allclose(after[0].xy, before[0].xy[results[0][1]])
    bad = tmp_path / "bad.txt"
    bad.write_text("image_name\tx\ty\n")
    with pytest.raises(CoordinateError, match=r"bad.txt:1: a Topaz table's header .* lacks x_coord, y_coord"):
        read_coordinates(bad)


def test_eman2_info_files_keep_their_other_keys(tmp_path):
    info = tmp_path / "info"
    info.mkdir()
    p = info / "mic_7_info.json"
    p.write_text(json.dumps({"boxes": [[100.5, 200, "manual"], [50, 60, "auto", 0.8]], "ctf": ["x"]}))
    (picks,) = read_coordinates(p)
    assert picks.micrograph == "mic_7" and detect_format(p).name == "eman2"
    np.testing.assert_allclose(picks.xy, [[100.5, 200], [50, 60]])
    assert np.isnan(picks.fom[0]) and picks.fom[1] == 0.8
    get_format("eman2").write(tmp_path / "out_info.json", [(picks, np.array([False, True]), np.array([0.2, 0.7]))],
                              CoordinateOptions(), "unpicked picks", "")
    doc = json.loads((tmp_path / "out_info.json").read_text())
    assert doc == {"boxes": [[50, 60, "auto", 0.8]], "ctf": ["x"], "unpicker_scores": [0.7]}


def _cs_dataset(n_per_mic=(3, 2)):
    from cryosparc.dataset import Dataset

    n = sum(n_per_mic)
    ds = Dataset.allocate(n, [("location/micrograph_path", "O"), ("location/center_x_frac", "f4"),
                              ("location/center_y_frac", "f4"), ("location/micrograph_shape", "u4", (2,)),
                              ("pick_stats/ncc_score", "f4")])
    paths = sum(([f"J2/motioncorrected/m{i}_doseweighted.mrc"] * k for i, k in enumerate(n_per_mic)), [])
    ds["location/micrograph_path"] = np.array(paths, dtype=object)
    ds["location/center_x_frac"] = np.linspace(0.1, 0.9, n)
    ds["location/center_y_frac"] = np.linspace(0.9, 0.2, n)
    ds["location/micrograph_shape"] = np.tile([[3000, 4000]], (n, 1))      # (ny, nx)
    ds["pick_stats/ncc_score"] = np.arange(n, dtype=np.float32)
    return ds


@pytest.mark.parametrize("encoding", ["numpy", "compressed"])
def test_cryosparc_files_through_cryosparc_tools(tmp_path, encoding):
    from cryosparc.dataset import CSDAT_FORMAT, NUMPY_FORMAT, Dataset

    ds = _cs_dataset()
    path = tmp_path / "picked_particles.cs"
    ds.save(path, format=NUMPY_FORMAT if encoding == "numpy" else CSDAT_FORMAT)
    assert detect_format(path).name == "cryosparc"
    m0, m1 = read_coordinates(path, CoordinateOptions(cs_project_dir=tmp_path / "P7"))
    assert (m0.micrograph, len(m0), len(m1)) == ("m0_doseweighted", 3, 2)
    assert m0.micrograph_path == str(tmp_path / "P7" / "J2/motioncorrected/m0_doseweighted.mrc")
    x = np.asarray(ds["location/center_x_frac"], np.float64) * 4000
    y = np.asarray(ds["location/center_y_frac"], np.float64) * 3000
    np.testing.assert_allclose(m0.xy, np.stack([x, y], 1)[:3])
    np.testing.assert_array_equal(m0.uid, ds["uid"][:3])
    (f0, _) = read_coordinates(path, CoordinateOptions(flip_y=True))
    np.testing.assert_allclose(f0.xy[:, 1], 3000 - y[:3])
    keep0, keep1 = np.array([True, False, True]), np.array([False, True])
    get_format("cryosparc").write(tmp_path / "kept.cs", [(m0, keep0, np.array([0.9, 0.1, 0.6])),
                                                         (m1, keep1, np.array([0.2, 0.7]))],
                                  CoordinateOptions(), "unpicked picks", "")
    out = Dataset.load(tmp_path / "kept.cs")
    np.testing.assert_array_equal(out["uid"], ds["uid"][[0, 2, 4]])
    assert set(ds.fields()) < set(out.fields())
    np.testing.assert_allclose(out["unpicker/score"], [0.9, 0.6, 0.7])
    np.testing.assert_array_equal(out["location/center_x_frac"], ds["location/center_x_frac"][[0, 2, 4]])


def test_formats_are_recognised_or_named(tmp_path):
    assert set(format_names()) == {"relion", "cbox", "box", "eman2", "topaz", "cryosparc"}
    odd = tmp_path / "picks.dat"
    odd.write_text("something else\n")
    with pytest.raises(CoordinateError, match=r"picks.dat: not a coordinate file of a known format \(expected one "
                                              r"of: .*topaz.*\); --coord_format names the format"):
        read_coordinates(odd)
    # content decides where the extension does not: a Topaz table named .dat
    table = tmp_path / "t.dat"
    table.write_text("image_name\tx_coord\ty_coord\nm\t1\t2\n")
    assert detect_format(table).name == "topaz"
    # --coord_format forces a reading
    boxes = tmp_path / "b.dat"
    boxes.write_text("1 2 10 10\n")
    assert detect_format(boxes, "box").name == "box" and read_coordinates(boxes, CoordinateOptions("box"))[0].xy.tolist() \
        == [[6.0, 7.0]]
