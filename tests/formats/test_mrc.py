"""Reading MRC micrographs (unpicker/formats/mrc.py)."""
from __future__ import annotations

import mrcfile
import numpy as np
import pytest

from conftest import shared_path
from unpicker.formats.mrc import MicrographError, read_micrograph, read_pixel_size, resolve_apix


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.float32, np.uint16, np.float16])
@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_every_mode_and_byte_order(tmp_path, dtype, byteorder):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 100, size=(30, 40)).astype(dtype)
    p = tmp_path / "m.mrc"
    with mrcfile.new(p) as mrc:
        mrc.set_data(data.astype(np.dtype(dtype).newbyteorder(byteorder)))
        mrc.voxel_size = 1.77
    image, apix = read_micrograph(p)
    assert image.dtype == np.float32 and image.shape == (30, 40)
    np.testing.assert_array_equal(image, data.astype(np.float32))
    assert apix == pytest.approx(1.77)


def test_single_image_stack_and_zero_pixel_size(tmp_path):
    p = tmp_path / "s.mrc"
    with mrcfile.new(p) as mrc:
        mrc.set_data(np.ones((1, 8, 9), np.float32))
    image, apix = read_micrograph(p)
    assert image.shape == (8, 9) and apix is None
    with mrcfile.new(p, overwrite=True) as mrc:
        mrc.set_data(np.ones((2, 8, 9), np.float32))
    with pytest.raises(MicrographError, match="s.mrc: not a readable MRC micrograph .a stack of 2 images"):
        read_micrograph(p)


def test_missing_truncated_and_not_mrc_files_name_the_file(tmp_path):
    with pytest.raises(MicrographError, match="gone.mrc: micrograph not found"):
        read_micrograph(tmp_path / "gone.mrc")
    p = tmp_path / "t.mrc"
    with mrcfile.new(p) as mrc:
        mrc.set_data(np.ones((64, 64), np.float32))
    p.write_bytes(p.read_bytes()[:2000])
    with pytest.raises(MicrographError, match="t.mrc: not a readable MRC"):
        read_micrograph(p)
    q = tmp_path / "x.mrc"
    q.write_text("hello " * 300)
    with pytest.raises(MicrographError, match="x.mrc"):
        read_micrograph(q)


def test_real_fei_extended_header_micrograph():
    image, apix = read_micrograph(shared_path("mrc", "fei-extended.mrc"))
    assert image.shape == (3838, 3710)  # (ny, nx)
    assert apix == pytest.approx(0.854, abs=1e-3)
    assert image.std() > 0


def test_pixel_size_resolution():
    assert resolve_apix(2.0, 1.5)[:2] == (2.0, "--apix")
    assert resolve_apix(None, 1.5)[:2] == (1.5, "MRC header")
    assert resolve_apix(None, None, 1.77)[:2] == (1.77, "_rlnMicrographPixelSize")
    apix, source, warning = resolve_apix(None, 1.0, needs_angstrom=True)
    assert apix == 1.0 and warning and "1.0" in warning
    assert resolve_apix(None, None, needs_angstrom=False) == (1.0, "default", None)


def test_pixel_size_from_the_header_alone(tmp_path):
    p = tmp_path / "h.mrc"
    with mrcfile.new(p) as mrc:
        mrc.set_data(np.zeros((16, 16), np.float32))
        mrc.voxel_size = 2.5
    assert read_pixel_size(p) == pytest.approx(2.5)
    with pytest.raises(MicrographError, match="nothere.mrc: micrograph not found"):
        read_pixel_size(tmp_path / "nothere.mrc")


def test_what_mrcfile_reads_leniently_is_read_and_what_is_no_micrograph_is_refused(tmp_path):
    # a single image whose header lacks the "MAP " id (older writers): read, as mrcfile's permissive mode does
    p = tmp_path / "noid.mrc"
    with mrcfile.new(p) as mrc:
        mrc.set_data(np.arange(12, dtype=np.float32).reshape(3, 4))
    raw = bytearray(p.read_bytes())
    raw[208:212] = b"\0\0\0\0"
    p.write_bytes(bytes(raw))
    image, _ = read_micrograph(p)
    np.testing.assert_array_equal(image, np.arange(12, dtype=np.float32).reshape(3, 4))
    # complex values (mode 4) are not taken for their real part
    c = tmp_path / "complex.mrc"
    with mrcfile.new(c) as mrc:
        mrc.set_data(np.ones((4, 4), np.complex64))
    with pytest.raises(MicrographError, match="complex.mrc: .*complex-valued data"):
        read_micrograph(c)
    # a volume is not a micrograph
    v = tmp_path / "volume.mrc"
    with mrcfile.new(v) as mrc:
        mrc.set_data(np.ones((3, 4, 4), np.float32))
        mrc.set_volume()
    with pytest.raises(MicrographError, match="volume.mrc"):
        read_micrograph(v)


def test_nonfinite_pixels_are_named_or_filled(tmp_path):
    p = tmp_path / "nan.mrc"
    data = np.arange(20, dtype=np.float32).reshape(4, 5)
    data[2, 3] = np.nan
    data[0, 1] = -np.inf
    with mrcfile.new(p) as mrc:
        mrc.set_data(data)
    with pytest.raises(MicrographError, match=r"nan.mrc: 2 pixels are NaN or infinite \(the first at x 1, y 0\)"):
        read_micrograph(p)
    image, _ = read_micrograph(p, fill_nonfinite=True)
    finite = data[np.isfinite(data)]
    assert image[2, 3] == pytest.approx(finite.mean()) and image[0, 1] == pytest.approx(finite.mean())
