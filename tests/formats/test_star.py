"""The STAR reader and writer on every shape RELION and other tools produce."""
from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import shared_path
from unpicker.formats.relion import read_picks
from unpicker.formats.star import StarError, edit_loop, format_loop_block, parse_star, read_star

RELION30_TEMPLATE = """
data_

loop_
_rlnCoordinateX #1
_rlnCoordinateY #2
_rlnClassNumber #3
_rlnAutopickFigureOfMerit #4
_rlnAnglePsi #5
 1084.000000   968.000000            1     1.393581   -999.00000
  702.000000   530.000000            2     0.970404   -999.00000
"""

RELION31_LOG = """
# version 30001

data_optics

loop_
_rlnOpticsGroupName #1
_rlnOpticsGroup #2
_rlnMicrographPixelSize #3
opticsGroup1 1 1.770000

# version 30001

data_coordinates

loop_
_rlnCoordinateX #1
_rlnCoordinateY #2
_rlnAutopickFigureOfMerit #3
_rlnClassNumber #4
_rlnAnglePsi #5
  120.5   340.25  0.5   0  -999.0
  900.0   10.0    0.25  0  -999.0
  33.0    44.0    0.125 0  -999.0"""  # no trailing newline


def test_relion30_template_columns_by_name():
    star = parse_star(RELION30_TEMPLATE, "t.star")
    b = star.find_loop("rlnCoordinateX", "rlnCoordinateY")
    assert b.columns[2] == "rlnClassNumber"
    np.testing.assert_array_equal(b.floats("rlnAutopickFigureOfMerit"), [1.393581, 0.970404])
    assert b.row_lines == [9, 10]


def test_relion31_multiblock_and_missing_trailing_newline(tmp_path):
    p = tmp_path / "mic_autopick.star"
    p.write_text(RELION31_LOG)
    picks = read_picks(p)
    assert picks.block.name == "coordinates"
    np.testing.assert_array_equal(picks.xy, [[120.5, 340.25], [900, 10], [33, 44]])
    # figure of merit is column 3 here, column 4 in template files: found by name either way
    np.testing.assert_array_equal(picks.block.floats("_rlnAutopickFigureOfMerit"), [0.5, 0.25, 0.125])
    assert read_star(p).block("optics").value("rlnMicrographPixelSize") == "1.770000"


def test_columns_without_indices_comments_and_blank_lines():
    text = "# a comment\n\ndata_x\n\n# another\nloop_\n_rlnCoordinateX\n_rlnCoordinateY\n\n1 2\n\n3 4 # trailing\n"
    b = parse_star(text).block("x")
    assert not b.indexed_columns
    assert b.rows == [["1", "2"], ["3", "4"]]


def test_key_value_block_quotes_and_empty_loop():
    text = "data_general\n_a 1.5\n_b 'two words'\n_c \"\"\n\ndata_empty\nloop_\n_rlnCoordinateX #1\n"
    star = parse_star(text)
    assert star.block("general").pairs == {"a": "1.5", "b": "two words", "c": ""}
    assert star.block("empty").columns == ["rlnCoordinateX"] and star.block("empty").rows == []


def test_single_row_loop_value():
    star = parse_star("data_\nloop_\n_rlnVoltage #1\n_rlnSphericalAberration #2\n300 2.7\n")
    assert star.block("").value("rlnSphericalAberration") == "2.7"


def test_helical_extra_columns_kept():
    text = RELION30_TEMPLATE.replace("_rlnAnglePsi #5", "_rlnAnglePsi #5\n_rlnHelicalTubeID #6\n_rlnHelicalTrackLengthAngst #7")
    text = text.replace("-999.00000\n", "-999.00000 1 0.0\n")
    b = parse_star(text).find_loop("rlnCoordinateX")
    assert b.column("rlnHelicalTubeID") == ["1", "1"]


@pytest.mark.parametrize("text,match", [
    (RELION30_TEMPLATE + " 1 2 3\n", r"t.star:12: expected 5 values"),
    (RELION30_TEMPLATE.replace("702.000000", "abc"), r"t.star:11: _rlnCoordinateX is not a number: 'abc'"),
])
def test_malformed_rows_name_file_and_line(tmp_path, text, match):
    p = tmp_path / "t.star"
    p.write_text(text)
    with pytest.raises(StarError, match=match):
        read_picks(p)


def test_no_coordinate_columns_is_an_error(tmp_path):
    p = tmp_path / "c.star"
    p.write_text("data_\nloop_\n_rlnMicrographName #1\na.mrc\n")
    with pytest.raises(StarError, match=r"c.star: no coordinate columns"):
        read_picks(p)


def test_text_before_data_block_and_missing_file(tmp_path):
    with pytest.raises(StarError, match=r"f.star:1: text before the first data_"):
        parse_star("1 2 3\n", "f.star")
    with pytest.raises(StarError, match=r"nope.star: cannot be read"):
        read_star(tmp_path / "nope.star")


def test_edit_loop_keeps_text_drops_rows_and_appends_column():
    star = parse_star(RELION31_LOG, "a.star")
    b = star.find_loop("rlnCoordinateX")
    text = edit_loop(star, b, keep=[True, False, True], new_columns={"unpickerScore": ["0.9", "0.7"]})
    lines = text.splitlines()
    assert "_unpickerScore #6" in lines
    assert lines.index("_unpickerScore #6") == lines.index("_rlnAnglePsi #5") + 1
    assert "  120.5   340.25  0.5   0  -999.0 0.9" in lines   # original text, value appended
    assert not any(line.startswith("  900.0") for line in lines)
    # the optics block is untouched
    assert "opticsGroup1 1 1.770000" in lines
    again = parse_star(text).find_loop("rlnCoordinateX")
    assert again.column("unpickerScore") == ["0.9", "0.7"]
    assert again.column("rlnCoordinateX") == ["120.5", "33.0"]


def test_format_loop_block_round_trips():
    text = format_loop_block("coords", ["rlnCoordinateX", "rlnMicrographName"], [["1.25", "a b.mrc"], ["3", ""]])
    b = parse_star(text).block("coords")
    assert b.rows == [["1.25", "a b.mrc"], ["3", ""]]


def test_written_files_read_back_by_starfile(tmp_path):
    starfile = pytest.importorskip("starfile")
    star = parse_star(RELION30_TEMPLATE)
    p = tmp_path / "out.star"
    p.write_text(edit_loop(star, star.blocks[0], keep=[False, True], new_columns={"unpickerLabel": ["N"]}))
    df = starfile.read(p)
    assert list(df.columns)[-1] == "unpickerLabel"
    assert df["rlnCoordinateX"].tolist() == [702.0] and df["unpickerLabel"].tolist() == ["N"]


def _same_value(ours: str, theirs) -> bool:
    if isinstance(theirs, str):
        return ours == theirs
    if isinstance(theirs, float) and math.isnan(theirs):
        return ours == "" or ours.lower() == "nan"
    return float(ours) == float(theirs)


def test_every_starfile_test_file_matches_the_starfile_library():
    starfile = pytest.importorskip("starfile")
    folder = shared_path("star", "starfile_tests")
    files = sorted(folder.rglob("*.star"))
    assert files
    for path in files:
        theirs = starfile.read(path, always_dict=True)
        ours = read_star(path)
        names = list(dict.fromkeys(b.name for b in ours.blocks))
        assert names == list(theirs.keys()), path
        for name, expected in theirs.items():
            block = ours.block(name)
            if isinstance(expected, dict):
                assert list(block.pairs) == list(expected), (path, name)
                for k, v in expected.items():
                    assert _same_value(block.pairs[k], v), (path, name, k)
            else:
                assert block.columns == list(expected.columns), (path, name)
                assert len(block.rows) == len(expected), (path, name)
                for j, col in enumerate(expected.columns):
                    for row, v in zip(block.rows, expected[col].tolist()):
                        assert _same_value(row[j], v), (path, name, col, row[j], v)


def test_a_byte_order_mark_is_not_part_of_the_text(tmp_path):
    p = tmp_path / "bom.star"
    p.write_bytes("\ufeff".encode() + RELION30_TEMPLATE.lstrip().encode())
    picks = read_picks(p)
    assert picks.xy.tolist() == [[1084.0, 968.0], [702.0, 530.0]]


def test_added_values_go_before_a_rows_trailing_comment():
    text = ("data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n"
            "10 20   # kept on purpose\n30 '40' #note\n50 60\n")
    star = parse_star(text)
    edited = edit_loop(star, star.blocks[0], new_columns={"unpickerScore": ["0.9", "0.1", "0.5"]})
    assert edited.splitlines()[-3:] == ["10 20 0.9   # kept on purpose", "30 '40' 0.1 #note", "50 60 0.5"]
    again = parse_star(edited).blocks[0]      # readable by the project itself, the comment still a comment
    assert again.column("unpickerScore") == ["0.9", "0.1", "0.5"] and again.column("rlnCoordinateY")[1] == "40"


def test_nonfinite_numbers_are_named_with_file_and_line():
    star = parse_star("data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n1 2\ninf 3\n", "picks.star")
    with pytest.raises(StarError, match=r"picks.star:6: _rlnCoordinateX is not a finite number: 'inf'"):
        star.blocks[0].floats("rlnCoordinateX")
    assert math.isinf(star.blocks[0].floats("rlnCoordinateX", finite=False)[1])


def test_markers_are_outside_the_table_and_read_back(tmp_path):
    from unpicker.formats.star import read_marker, with_marker

    text = with_marker(with_marker(RELION30_TEMPLATE, "unpicked picks", "threshold 0.5"), "training file")
    assert text.count("# written by emUnpicker") == 1            # a copied marker is replaced, not added
    (tmp_path / "m.star").write_text(text)
    assert read_marker(tmp_path / "m.star") == ("training file", "")
    assert len(read_star(tmp_path / "m.star").blocks[0].rows) == 2
    import starfile

    assert len(starfile.read(tmp_path / "m.star")) == 2
    (tmp_path / "plain.star").write_text(RELION30_TEMPLATE)
    assert read_marker(tmp_path / "plain.star") is None


def test_a_column_the_table_has_gets_new_values_in_place():
    text = "data_\nloop_\n_a #1\n_b #2\n_c #3\n1.0   <NA>  'x y' # c\n2.0   0.5   z\n"
    star = parse_star(text)
    edited = edit_loop(star, star.blocks[0], new_columns={"b": ["0.9", "0.1"], "d": ["u", "v"]})
    assert edited.splitlines()[4:] == ["_c #3", "_d #4", "1.0   0.9  'x y' u # c", "2.0   0.1   z v"]
