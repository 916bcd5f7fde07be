"""The contrast transfer function and phase flipping, with RELION's conventions.

Defocus U/V in Å (positive = underfocus), astigmatism angle in degrees,
voltage in kV, spherical aberration Cs in mm, amplitude contrast as a
fraction, phase shift in degrees. Spatial frequencies in 1/Å.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .star import StarError, read_star


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


def _micrograph_key(name: str) -> str:
    """``MotionCorr/job002/Movies/mic001.mrc`` -> ``mic001``."""
    stem = Path(name).name
    return stem[:-4] if stem.endswith(".mrc") else stem


def read_ctf_star(path: str | Path) -> tuple[dict[str, CtfParams], float | None]:
    """Per-micrograph CTF parameters from a RELION ``micrographs_ctf.star``.

    Reads RELION 3.0 files (one table with every column) and 3.1+ files
    (``data_optics`` with voltage, Cs and amplitude contrast per optics group,
    ``data_micrographs`` with the defocus). Keys are micrograph names without
    folder and ``.mrc``. Also returns ``_rlnMicrographPixelSize`` when present.
    """
    star = read_star(path)
    mics = star.find_loop("rlnMicrographName", "rlnDefocusU", "rlnDefocusV")
    optics_by_group: dict[str, dict[str, str]] = {}
    apix = None
    try:
        optics = star.block("optics")
        for row in optics.rows:
            values = dict(zip(optics.columns, row))
            optics_by_group[values.get("rlnOpticsGroup", "1")] = values
            if "rlnMicrographPixelSize" in values:
                apix = float(values["rlnMicrographPixelSize"])
    except StarError:
        pass
    out = {}
    for row, line in zip(mics.rows, mics.row_lines):
        values = dict(zip(mics.columns, row))
        merged = {**optics_by_group.get(values.get("rlnOpticsGroup", ""), {}), **values}

        def get(name: str, default: float | None = None) -> float:
            if name in merged:
                try:
                    return float(merged[name])
                except ValueError:
                    raise StarError(f"{path}:{line + 1}: _{name} is not a number: {merged[name]!r}") from None
            if default is None:
                raise StarError(f"{path}:{line + 1}: no _{name} for {values['rlnMicrographName']}")
            return default

        out[_micrograph_key(values["rlnMicrographName"])] = CtfParams(
            get("rlnDefocusU"), get("rlnDefocusV"), get("rlnDefocusAngle", 0.0), get("rlnVoltage"),
            get("rlnSphericalAberration"), get("rlnAmplitudeContrast"), get("rlnPhaseShift", 0.0))
        if apix is None and "rlnMicrographPixelSize" in merged:
            apix = get("rlnMicrographPixelSize")
    return out, apix
