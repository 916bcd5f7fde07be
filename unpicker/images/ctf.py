"""The contrast transfer function and phase flipping, with RELION's conventions.

Defocus U/V in Å (positive = underfocus), astigmatism angle in degrees,
voltage in kV, spherical aberration Cs in mm, amplitude contrast as a
fraction, phase shift in degrees. Spatial frequencies in 1/Å.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CtfParams:
    defocus_u_A: float
    defocus_v_A: float
    defocus_angle_deg: float
    voltage_kV: float
    cs_mm: float
    amplitude_contrast: float
    phase_shift_deg: float = 0.0


def electron_wavelength_A(voltage_kV: float) -> float:
    """Relativistic electron wavelength in Å."""
    v = voltage_kV * 1e3
    return 12.2643247 / np.sqrt(v * (1.0 + v * 0.978466e-6))


def ctf_values(p: CtfParams, fy: np.ndarray, fx: np.ndarray) -> np.ndarray:
    """The CTF at frequencies (fy, fx) in 1/Å (broadcast together), float32.

    CTF = -(sqrt(1 - A^2) sin(chi) - A cos(chi)) with
    chi = -pi lambda dz(theta) f^2 + pi/2 Cs lambda^3 f^4 - phase shift, which is
    positive near the origin for underfocus, as RELION computes it.
    """
    lam = electron_wavelength_A(p.voltage_kV)
    cs_A = p.cs_mm * 1e7
    f2 = (fx * fx + fy * fy).astype(np.float32)
    theta = np.arctan2(fy, fx).astype(np.float32)
    mean_dz = 0.5 * (p.defocus_u_A + p.defocus_v_A)
    half_astig = 0.5 * (p.defocus_u_A - p.defocus_v_A)
    dz = mean_dz + half_astig * np.cos(2.0 * (theta - np.deg2rad(p.defocus_angle_deg)))
    chi = (-np.pi * lam * dz * f2 + 0.5 * np.pi * cs_A * lam**3 * f2 * f2
           - np.deg2rad(p.phase_shift_deg)).astype(np.float32)
    a = p.amplitude_contrast
    return -(np.sqrt(1.0 - a * a) * np.sin(chi) - a * np.cos(chi))
