"""The CTF with RELION's conventions (unpicker/images/ctf.py)."""
from __future__ import annotations

import numpy as np
import pytest

from unpicker.images.ctf import CtfParams, electron_wavelength_A
from unpicker.images.preprocess import ctf_sign


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
