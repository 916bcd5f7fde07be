"""MRC loading, Fourier filters, CTF phase flip, box extraction and augmentation."""
from __future__ import annotations

import mrcfile
import numpy as np
import pytest

from conftest import shared_path
from unpicker.boxes import augment, default_shift_px, dihedral, extract_boxes, normalise_boxes, shift_boxes
from unpicker.ctf import CtfParams, electron_wavelength_A, read_ctf_star
from unpicker.dataset import micrograph_boxes
from unpicker.mrcio import MicrographError, read_micrograph, resolve_apix
from unpicker.preprocess import Preprocessing, ctf_sign, fourier_filter, sigma_contrast


# ---------- loading ----------

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


# ---------- filters ----------

def sinusoid(shape, period_px, axis):
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx]
    coord = x if axis == 1 else y
    return np.cos(2 * np.pi * coord / period_px).astype(np.float32)


@pytest.mark.parametrize("shape", [(128, 128), (96, 160)])
@pytest.mark.parametrize("axis", [0, 1])
def test_lowpass_and_highpass_on_sinusoids(shape, axis):
    n = shape[axis]
    apix = 2.0
    fine = sinusoid(shape, n / 16, axis)     # period n/16 px = 16 cycles across the image
    coarse = sinusoid(shape, n / 2, axis)    # 2 cycles
    # lowpass at 1/8 of the image size in Å: fine (16 cycles) removed, coarse (2) kept
    lp = Preprocessing(apix=apix, lowpass_A=apix * n / 8, boxsize_px=8, resized_px=8)
    np.testing.assert_allclose(fourier_filter(fine, lp), 0, atol=1e-4)
    np.testing.assert_allclose(fourier_filter(coarse, lp), coarse, atol=1e-4)
    hp = Preprocessing(apix=apix, highpass_A=apix * n / 8, boxsize_px=8, resized_px=8)
    np.testing.assert_allclose(fourier_filter(coarse, hp), 0, atol=1e-4)
    np.testing.assert_allclose(fourier_filter(fine, hp), fine, atol=1e-4)


def test_gaussian_filter_attenuates_as_its_transfer_function():
    img = sinusoid((128, 128), 8, 1)
    s = Preprocessing(gaussian_sigma_px=2.0, boxsize_px=8, resized_px=8)
    expected = np.exp(-2 * np.pi**2 * 2.0**2 / 8**2)
    np.testing.assert_allclose(fourier_filter(img, s), img * expected, atol=1e-4)


def test_sigma_contrast_clips_to_mean_plus_minus_s_sd_and_returns_the_new_stats():
    img = np.zeros((600, 50), np.float32)    # more rows than one statistics chunk
    img[0, 0] = 1000.0
    img[599, 3] = -500.0
    mean, sd = img.mean(), img.std()
    out = img.copy()
    new_mean, new_sd = sigma_contrast(out, 3)
    assert out.max() == pytest.approx(mean + 3 * sd, rel=1e-5)
    assert out.min() == pytest.approx(mean - 3 * sd, rel=1e-5)
    assert (new_mean, new_sd) == (pytest.approx(out.astype(np.float64).mean(), abs=1e-9),
                                  pytest.approx(out.astype(np.float64).std(), rel=1e-6))
    same = img.copy()
    assert sigma_contrast(same, 0) == (pytest.approx(mean, abs=1e-6), pytest.approx(sd, rel=1e-5))
    assert np.array_equal(same, img)


def test_image_stats_keep_float64_precision_with_a_large_offset():
    from unpicker.preprocess import image_stats

    rng = np.random.default_rng(3)
    img = (rng.normal(size=(1000, 300)) * 2.0 + 30000.0).astype(np.float32)
    ref = img.astype(np.float64)
    mean, sd = image_stats(img)
    assert mean == pytest.approx(ref.mean(), rel=1e-9)
    assert sd == pytest.approx(ref.std(), rel=1e-5)


def test_ctf_phase_flip_matches_an_independent_ctf():
    shape, apix = (64, 96), 1.5
    ctf = CtfParams(15000.0, 12000.0, 30.0, 300.0, 2.7, 0.1)
    flip = ctf_sign(shape, apix, ctf)
    # Independent CTF: gamma = 2pi(-dz lambda k^2 / 2 + Cs lambda^3 k^4 / 4), CTF = -sin(gamma - w)
    # with w = atan(A / sqrt(1 - A^2)), defocus underfocus positive.
    ky = np.fft.fftfreq(shape[0])[:, None] / apix
    kx = np.fft.rfftfreq(shape[1])[None, :] / apix
    k2 = kx**2 + ky**2
    ang = np.arctan2(ky, kx)
    dz = 13500.0 + 1500.0 * np.cos(2 * (ang - np.deg2rad(30.0)))
    lam = 12.2643247 / np.sqrt(300e3 * (1 + 300e3 * 0.978466e-6))
    gamma = 2 * np.pi * (-0.5 * dz * lam * k2 + 0.25 * 2.7e7 * lam**3 * k2**2)
    w = np.arctan(0.1 / np.sqrt(1 - 0.01))
    expected = -np.sin(gamma - w)
    clear = np.abs(expected) > 1e-3
    assert np.array_equal(flip[clear], np.sign(expected[clear]))
    assert electron_wavelength_A(300) == pytest.approx(0.01969, abs=1e-5)


def test_ctf_flip_is_applied_in_the_pipeline():
    rng = np.random.default_rng(3)
    img = rng.normal(size=(64, 64)).astype(np.float32)
    ctf = CtfParams(20000.0, 20000.0, 0.0, 300.0, 2.7, 0.07)
    s = Preprocessing(apix=1.0, ctf_flip=True, boxsize_px=8, resized_px=8)
    out = fourier_filter(img, s, ctf)
    expected = np.fft.irfft2(np.fft.rfft2(img) * ctf_sign(img.shape, 1.0, ctf), s=img.shape)
    np.testing.assert_allclose(out, expected, atol=1e-4)
    with pytest.raises(ValueError, match="CTF"):
        fourier_filter(img, s, None)


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


# ---------- boxes ----------

def ramp(ny=100, nx=120):
    y, x = np.mgrid[0:ny, 0:nx]
    return (1000.0 * y + x).astype(np.float32)


def test_integer_pick_is_at_box_centre_and_x_is_column():
    img = ramp()
    box = extract_boxes(img, np.array([[60.0, 40.0]]), 10, 10)[0]
    assert box[5, 5] == img[40, 60]
    assert box[0, 0] == img[35, 55]
    assert box[5, 6] - box[5, 5] == 1.0      # x along columns


def test_fractional_coordinates_shift_the_box_continuously():
    img = ramp()
    a = extract_boxes(img, np.array([[60.0, 40.0]]), 10, 10)[0]
    b = extract_boxes(img, np.array([[60.25, 40.5]]), 10, 10)[0]
    # area averaging of a linear ramp shifts its values by exactly the offset
    np.testing.assert_allclose(b[1:-1, 1:-1] - a[1:-1, 1:-1], 0.25 + 500.0, rtol=0, atol=1e-2)


def test_resize_preserves_the_mean_and_antialiases():
    rng = np.random.default_rng(0)
    img = rng.normal(5.0, 1.0, size=(300, 300)).astype(np.float32)
    xy = np.array([[150.0, 150.0], [100.3, 120.7]])
    small = extract_boxes(img, xy, 100, 10)
    for box, (x, y) in zip(small, [(150, 150), (100, 121)]):
        assert box.mean() == pytest.approx(img[y - 50:y + 50, x - 50:x + 50].mean(), abs=0.02)
    # a checkerboard (the highest frequency) averages away instead of aliasing
    checker = np.indices((300, 300)).sum(0) % 2
    out = extract_boxes(checker.astype(np.float32), np.array([[150.0, 150.0]]), 100, 10)
    np.testing.assert_allclose(out, 0.5, atol=1e-5)


def test_edge_boxes_are_padded_not_dropped():
    img = np.ones((50, 50), np.float32)
    boxes = extract_boxes(img, np.array([[0.0, 0.0], [49.0, 25.0], [25.0, 25.0]]), 20, 20, fill=-1.0)
    assert boxes.shape == (3, 20, 20)
    assert boxes[0, 0, 0] == -1.0 and boxes[0, 15, 15] == 1.0
    assert boxes[1, 10, 0] == 1.0 and boxes[1, 10, 19] == -1.0
    assert (boxes[2] == 1.0).all()


def test_normalisation_modes():
    rng = np.random.default_rng(0)
    boxes = rng.normal(3, 2, size=(5, 8, 8)).astype(np.float32)
    b = normalise_boxes(boxes.copy(), "box")
    np.testing.assert_allclose(b.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(b.std(axis=(1, 2)), 1, atol=1e-5)
    m = normalise_boxes(boxes.copy(), "micrograph", 3.0, 2.0)
    np.testing.assert_allclose(m, (boxes - 3) / 2, atol=1e-6)


def test_rotations_and_dihedral_group():
    box = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    rot = augment(box, "rot4")
    assert rot.shape == (4, 4, 4)
    for k in range(4):
        np.testing.assert_array_equal(rot[k], np.rot90(box[0], k))
    d8 = augment(box, "d8")
    assert len({d.tobytes() for d in d8}) == 8
    assert augment(box, "none").shape == (1, 4, 4)
    per_box = dihedral(np.repeat(box, 3, 0), np.array([0, 1, 5]))
    np.testing.assert_array_equal(per_box[2], np.rot90(box[0, :, ::-1], 1))


def test_shift_boxes_moves_each_box_by_its_own_shift_and_fills_with_zero():
    rng = np.random.default_rng(0)
    boxes = rng.normal(size=(4, 6, 6)).astype(np.float32) + 5   # no zeros of its own
    shifts = np.array([[0, 0], [2, 0], [0, -1], [-2, 3]])
    out = shift_boxes(boxes, shifts)
    assert out.shape == boxes.shape and out.dtype == boxes.dtype
    for i, (dy, dx) in enumerate(shifts):
        for y in range(6):
            for x in range(6):
                inside = 0 <= y + dy < 6 and 0 <= x + dx < 6
                assert out[i, y, x] == (boxes[i, y + dy, x + dx] if inside else 0)
    assert not np.shares_memory(shift_boxes(boxes, np.zeros((4, 2), int)), boxes)
    assert [default_shift_px(s) for s in (2, 8, 16, 32, 48, 64)] == [0, 0, 1, 2, 3, 4]


def test_pipeline_boxes_are_normalised_and_flipped_ctf_runs():
    rng = np.random.default_rng(0)
    img = rng.normal(size=(256, 200)).astype(np.float32)
    s = Preprocessing(boxsize_px=64, resized_px=16, apix=2.0, lowpass_A=10, highpass_A=200, sigma_contrast=3,
                      normalisation="box")
    boxes = micrograph_boxes(img, rng.uniform(0, 200, size=(7, 2)), s)
    assert boxes.shape == (7, 16, 16) and np.isfinite(boxes).all()
    np.testing.assert_allclose(boxes.std(axis=(1, 2)), 1, atol=1e-4)


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="Nyquist"):
        Preprocessing(apix=2.0, lowpass_A=3.0)
    with pytest.raises(ValueError, match="normalisation"):
        Preprocessing(normalisation="minmax")


@pytest.mark.parametrize("kw", [dict(lowpass_A=20, highpass_A=500), dict(highpass_A=300),
                                dict(lowpass_A=8, gaussian_sigma_px=1.5)])
def test_band_limited_transform_equals_the_full_2d_filter(kw):
    """The filter skips the y transforms of columns a lowpass zeroes; the
    result must equal filtering with one full 2D FFT."""
    from unpicker.preprocess import _filter

    rng = np.random.default_rng(5)
    img = rng.normal(size=(150, 230)).astype(np.float32)
    s = Preprocessing(apix=1.0, boxsize_px=8, resized_px=8, **kw)
    h = _filter(img.shape, 1.0, s.lowpass_A, s.highpass_A, s.gaussian_sigma_px)
    expected = np.fft.irfft2(np.fft.rfft2(img.astype(np.float64)) * h, s=img.shape)
    np.testing.assert_allclose(fourier_filter(img, s), expected, atol=2e-5)


def test_pixel_size_from_the_header_alone(tmp_path):
    from unpicker.mrcio import read_pixel_size

    p = tmp_path / "h.mrc"
    with mrcfile.new(p) as mrc:
        mrc.set_data(np.zeros((16, 16), np.float32))
        mrc.voxel_size = 2.5
    assert read_pixel_size(p) == pytest.approx(2.5)
    with pytest.raises(MicrographError, match="nothere.mrc: micrograph not found"):
        read_pixel_size(tmp_path / "nothere.mrc")
