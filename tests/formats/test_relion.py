"""RELION's coordinate lists and CTF tables (unpicker/formats/relion.py)."""
from __future__ import annotations

from pathlib import Path

from unpicker.formats.relion import list_output_path, read_ctf_star
from unpicker.images.ctf import CtfParams


RELION31_CTF = """
# version 30001
data_optics
loop_
_rlnOpticsGroupName #1
_rlnOpticsGroup #2
_rlnVoltage #3
_rlnSphericalAberration #4
_rlnAmplitudeContrast #5
_rlnMicrographPixelSize #6
opticsGroup1 1 300.0 2.7 0.1 1.06

# version 30001
data_micrographs
loop_
_rlnMicrographName #1
_rlnOpticsGroup #2
_rlnDefocusU #3
_rlnDefocusV #4
_rlnDefocusAngle #5
MotionCorr/job002/Movies/mic001.mrc 1 15000.0 14000.0 12.5
"""


RELION30_CTF = """
data_
loop_
_rlnMicrographName #1
_rlnDefocusU #2
_rlnDefocusV #3
_rlnDefocusAngle #4
_rlnVoltage #5
_rlnSphericalAberration #6
_rlnAmplitudeContrast #7
Movies/mic002.mrc 21000.0 20000.0 5.0 200.0 2.0 0.07
"""


def test_reads_relion30_and_31_ctf_files(tmp_path):
    (tmp_path / "a.star").write_text(RELION31_CTF)
    (tmp_path / "b.star").write_text(RELION30_CTF)
    params, apix = read_ctf_star(tmp_path / "a.star")
    assert params["mic001"] == CtfParams(15000.0, 14000.0, 12.5, 300.0, 2.7, 0.1)
    assert apix == 1.06
    params, apix = read_ctf_star(tmp_path / "b.star")
    assert params["mic002"].voltage_kV == 200.0 and apix is None


def test_coordinate_list_output_names():
    p = Path("AutoPick/job006/autopick.star")
    assert list_output_path(p, "_autopick.star", "_autopick_unpick.star") == Path("AutoPick/job006/autopick_unpick.star")
    assert list_output_path(p, "_autopick.star", "_clean.star") == Path("AutoPick/job006/autopick_clean.star")


def test_ctf_values_that_are_not_numbers_are_named(tmp_path):
    import pytest

    from unpicker.formats.star import StarError

    (tmp_path / "c.star").write_text(RELION31_CTF.replace("1.06", "abc"))
    with pytest.raises(StarError, match=r"c.star:11: _rlnMicrographPixelSize is not a number: 'abc'"):
        read_ctf_star(tmp_path / "c.star")
    (tmp_path / "d.star").write_text(RELION31_CTF.replace("14000.0", "nan"))
    with pytest.raises(StarError, match=r"d.star:21: _rlnDefocusV is not a finite number: 'nan'"):
        read_ctf_star(tmp_path / "d.star")
