"""Whole-micrograph preprocessing: Fourier filters, phase flip, sigma contrast (unpicker/images/preprocess.py)."""
from __future__ import annotations

import numpy as np
import pytest

from unpicker.images.ctf import CtfParams
from unpicker.images.preprocess import (Preprocessing, ctf_sign, fourier_filter, image_stats, lowpass_candidates,
                                        sigma_contrast)


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
    rng = np.random.default_rng(3)
    img = (rng.normal(size=(1000, 300)) * 2.0 + 30000.0).astype(np.float32)
    ref = img.astype(np.float64)
    mean, sd = image_stats(img)
    assert mean == pytest.approx(ref.mean(), rel=1e-9)
    assert sd == pytest.approx(ref.std(), rel=1e-5)


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


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="Nyquist"):
        Preprocessing(apix=2.0, lowpass_A=3.0)
    with pytest.raises(ValueError, match="pixel size"):
        Preprocessing(apix=0.0)
    # a model whose boxes were standardised each on its own is refused by name
    with pytest.raises(ValueError, match="normalised by 'box'"):
        Preprocessing.from_dict({"boxsize_px": 100, "normalisation": "box"})
    assert Preprocessing.from_dict({"boxsize_px": 100, "normalisation": "micrograph", "later": 1}).boxsize_px == 100


@pytest.mark.parametrize("kw", [dict(lowpass_A=20, highpass_A=500), dict(highpass_A=300),
                                dict(lowpass_A=8, gaussian_sigma_px=1.5)])
def test_band_limited_transform_equals_the_full_2d_filter(kw):
    """The filter skips the y transforms of columns a lowpass zeroes; the
    result must equal filtering with one full 2D FFT."""
    from unpicker.images.preprocess import _filter

    rng = np.random.default_rng(5)
    img = rng.normal(size=(150, 230)).astype(np.float32)
    s = Preprocessing(apix=1.0, boxsize_px=8, resized_px=8, **kw)
    h = _filter(img.shape, 1.0, s.lowpass_A, s.highpass_A, s.gaussian_sigma_px)
    expected = np.fft.irfft2(np.fft.rfft2(img.astype(np.float64)) * h, s=img.shape)
    np.testing.assert_allclose(fourier_filter(img, s), expected, atol=2e-5)


def test_lowpass_candidates_are_periods_of_network_pixels_and_none_where_the_user_filters():
    given = Preprocessing(boxsize_px=250, resized_px=32, apix=1.25, sigma_contrast=3)
    names, candidates = zip(*lowpass_candidates(given))
    assert candidates[0] == given and names[0] == "no low-pass"
    # a network pixel is 250 x 1.25 / 32 = 9.77 Å: cutoffs of 4 and 8 of them, nothing else changed
    assert [c.lowpass_A for c in candidates[1:]] == [39.1, 78.1]
    assert all(c == Preprocessing(**{**given.to_dict(), "lowpass_A": c.lowpass_A}) for c in candidates[1:])
    assert "39.1 Å (4 network pixels)" in names[1]
    for user in ({"lowpass_A": 20.0}, {"gaussian_sigma_px": 2.0}):
        mine = Preprocessing(**{**given.to_dict(), **user})
        assert lowpass_candidates(mine) == [("as given", mine)]
    # a box hardly shrunk: a cutoff beyond Nyquist is left out
    assert len(lowpass_candidates(Preprocessing(boxsize_px=10, resized_px=32, apix=1.0))) == 2
