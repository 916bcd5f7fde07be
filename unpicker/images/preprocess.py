"""Preprocessing a whole micrograph before boxes are extracted (pure numpy/scipy).

The original's order: lowpass, highpass, Gaussian, (CTF phase flip), then
sigma contrast. The first four are all multiplications in Fourier space, so
they are applied together as one filter between one forward and one inverse
real FFT in float32; the product of the filters equals the filters applied one
after the other. Frequencies are computed per axis, so non-square micrographs
are filtered correctly.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache

import numpy as np
import scipy.fft

from .ctf import CtfParams, ctf_values

# Width of the raised-cosine edge of the lowpass and highpass filters, in
# Fourier pixels of the larger image dimension (2, as the original and RELION).
FILTER_EDGE_WIDTH_PX = 2.0


@dataclass(frozen=True)
class Preprocessing:
    """Everything that turns a micrograph and coordinates into network inputs.

    Training stores it in the model file; evaluation must use the same values.

    Attributes:
        boxsize_px: box edge in micrograph pixels, centred on each pick.
        resized_px: edge of the box given to the network after resizing.
        apix: pixel size in Å (used by the filters in Å).
        lowpass_A, highpass_A: filter resolutions in Å (0 = off).
        gaussian_sigma_px: Gaussian blur sigma in pixels (0 = off).
        sigma_contrast: clip to mean +- this many standard deviations (0 = off).
        ctf_flip: phase-flip each micrograph with its own CTF.

    Boxes are standardised with their micrograph's mean and standard
    deviation (after these steps), not each with its own: a box's density
    relative to its micrograph (empty ice, carbon) tells particles from junk.
    """

    boxsize_px: int = 200
    resized_px: int = 32
    apix: float = 1.0
    lowpass_A: float = 0.0
    highpass_A: float = 0.0
    gaussian_sigma_px: float = 0.0
    sigma_contrast: float = 0.0
    ctf_flip: bool = False

    def __post_init__(self) -> None:
        if self.boxsize_px < 2 or self.resized_px < 2:
            raise ValueError("boxsize and resized_box must be at least 2 pixels")
        if self.apix <= 0:
            raise ValueError(f"pixel size must be positive, got {self.apix}")
        for name in ("lowpass_A", "highpass_A", "gaussian_sigma_px", "sigma_contrast"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.lowpass_A and self.lowpass_A < 2 * self.apix:
            raise ValueError(f"lowpass {self.lowpass_A} Å is beyond Nyquist ({2 * self.apix} Å)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessing":
        """The settings a model file stores (keys it does not know are ignored).
        A model whose boxes were standardised each on its own (``"normalisation":
        "box"``) is refused: its boxes cannot be prepared any more."""
        if d.get("normalisation", "micrograph") != "micrograph":
            raise ValueError(f"boxes normalised by {d['normalisation']!r}, which this version does not "
                             "prepare (retrain the model)")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _frequency_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(fy column, fx row) in cycles per pixel for an rfft2 of ``shape``."""
    ny, nx = shape
    return (scipy.fft.fftfreq(ny).astype(np.float32)[:, None],
            scipy.fft.rfftfreq(nx).astype(np.float32)[None, :])


def raised_cosine(r: np.ndarray, cutoff: float, width: float, keep_low: bool) -> np.ndarray:
    """1 below ``cutoff - width/2``, 0 above ``cutoff + width/2``, a half cosine
    between (reversed when ``keep_low`` is False). Units of ``r``."""
    lo = max(cutoff - width / 2, 0.0)
    t = np.clip((r - lo) / max(cutoff + width / 2 - lo, 1e-12), 0.0, 1.0)
    w = 0.5 + 0.5 * np.cos(np.pi * t)
    return w if keep_low else 1.0 - w


@lru_cache(maxsize=4)
def _filter(shape: tuple[int, int], apix: float, lowpass_A: float, highpass_A: float,
            gaussian_sigma_px: float) -> np.ndarray | None:
    """The product of the lowpass, highpass and Gaussian filters on the rfft2
    grid (float32), or None when all are off. Cached per image shape."""
    if not (lowpass_A or highpass_A or gaussian_sigma_px):
        return None
    fy, fx = _frequency_grid(shape)
    r = np.sqrt(fy * fy + fx * fx)  # cycles/pixel
    width = FILTER_EDGE_WIDTH_PX / max(shape)
    h = np.ones(r.shape, np.float32)
    if lowpass_A:
        h *= raised_cosine(r, apix / lowpass_A, width, keep_low=True)
    if highpass_A:
        h *= raised_cosine(r, apix / highpass_A, width, keep_low=False)
    if gaussian_sigma_px:
        # transfer function of a Gaussian of sd sigma pixels (periodic boundary)
        h *= np.exp(-2.0 * np.pi**2 * gaussian_sigma_px**2 * r * r)
    h.setflags(write=False)
    return h


def ctf_sign(shape: tuple[int, int], apix: float, ctf: CtfParams) -> np.ndarray:
    """sign(CTF) on the rfft2 grid of an image of ``shape``: the phase flip."""
    fy, fx = _frequency_grid(shape)
    return np.sign(ctf_values(ctf, fy / apix, fx / apix)).astype(np.float32)


def fourier_filter(image: np.ndarray, settings: Preprocessing, ctf: CtfParams | None = None,
                   workers: int = 1) -> np.ndarray:
    """Apply lowpass, highpass, Gaussian and (when ``settings.ctf_flip``) the
    phase flip in one Fourier pass. Returns a new float32 image."""
    h = _filter(image.shape, settings.apix, settings.lowpass_A, settings.highpass_A,
                settings.gaussian_sigma_px)
    if settings.ctf_flip:
        if ctf is None:
            raise ValueError("ctf_flip needs the micrograph's CTF parameters")
        flip = ctf_sign(image.shape, settings.apix, ctf)
        h = flip if h is None else h * flip
    if h is None:
        return image.astype(np.float32, copy=True)
    # A 2D real FFT is a real FFT along x (axis 1) then a complex FFT along y
    # (axis 0). With a lowpass the filter is exactly 0 beyond some x
    # frequency, so the y transforms of those columns (forward and inverse)
    # are skipped: the same result, about half the work at 20 Å on 1 Å/px.
    ncols = _band_columns(h)
    rows = scipy.fft.rfft(image.astype(np.float32, copy=False), axis=1, workers=workers)
    band = scipy.fft.fft(rows[:, :ncols], axis=0, workers=workers, overwrite_x=True)
    band *= h[:, :ncols]
    rows[:, ncols:] = 0
    rows[:, :ncols] = scipy.fft.ifft(band, axis=0, workers=workers, overwrite_x=True)
    return scipy.fft.irfft(rows, n=image.shape[1], axis=1, workers=workers, overwrite_x=True)


def _band_columns(h: np.ndarray) -> int:
    """How many leading rfft columns hold a non-zero filter value."""
    nonzero = np.flatnonzero(h.any(axis=0))
    return int(nonzero[-1]) + 1 if len(nonzero) else 1


STATS_ROWS = 256   # rows per chunk: a chunk's temporary stays in the cache


def _chunk_moments(chunk: np.ndarray) -> tuple[int, float, float]:
    """(count, mean, sum of squared deviations) of one chunk; the deviations
    are taken from the chunk's own mean, so a large offset costs no precision."""
    mean = float(chunk.mean())
    d = (chunk - np.float32(mean)).ravel()
    residual = float(d.mean())
    return d.size, mean + residual, float(np.dot(d, d)) - d.size * residual * residual


def _combine(a: tuple[int, float, float], b: tuple[int, float, float]) -> tuple[int, float, float]:
    """Merge the moments of two disjoint sets (Chan et al.'s pairwise update)."""
    n = a[0] + b[0]
    delta = b[1] - a[1]
    return n, a[1] + delta * b[0] / n, a[2] + b[2] + delta * delta * a[0] * b[0] / n


def image_stats(image: np.ndarray, clip: tuple[float, float] | None = None) -> tuple[float, float]:
    """Mean and standard deviation of a float32 image, accumulated in float64
    over chunks of rows (as accurate as a float64 copy, without the copy).
    With ``clip=(lo, hi)`` the image is clipped in place first, chunk by
    chunk, and the statistics are those of the clipped image."""
    total = (0, 0.0, 0.0)
    for r in range(0, image.shape[0], STATS_ROWS):
        chunk = image[r:r + STATS_ROWS]
        if clip is not None:
            np.clip(chunk, clip[0], clip[1], out=chunk)
        total = _combine(total, _chunk_moments(chunk))
    return total[1], (max(total[2], 0.0) / max(total[0], 1)) ** 0.5


def sigma_contrast(image: np.ndarray, sigmas: float) -> tuple[float, float]:
    """Clip to mean +- ``sigmas`` standard deviations in place (RELION's sigma
    contrast; 0 leaves the image as it is). Returns the mean and standard
    deviation of the result, which the per-micrograph standardisation uses."""
    mean, sd = image_stats(image)
    if sigmas > 0:
        mean, sd = image_stats(image, (mean - sigmas * sd, mean + sigmas * sd))
    return mean, sd


def preprocess_with_stats(image: np.ndarray, settings: Preprocessing, ctf: CtfParams | None = None,
                          workers: int = 1) -> tuple[np.ndarray, float, float]:
    """The whole-micrograph steps in the original's order: the Fourier filters,
    then sigma contrast. Returns a new float32 image with its mean and
    standard deviation (for standardising the boxes)."""
    out = fourier_filter(image, settings, ctf, workers)
    mean, sd = sigma_contrast(out, settings.sigma_contrast)
    return out, mean, sd



# The low-passes training tries (--preprocessing choose), as the period of
# their cutoff in pixels of the network's box: 4 (about twice what the
# resizing keeps) and 8, the stronger denoising.
LOWPASS_CANDIDATES_NETWORK_PX = (4, 8)


def lowpass_candidates(settings: Preprocessing) -> list[tuple[str, Preprocessing]]:
    """The preprocessing training chooses from by validation: ``settings`` as
    they are, and with each low-pass of :data:`LOWPASS_CANDIDATES_NETWORK_PX`
    (a cutoff of that many network pixels, ``k * boxsize_px * apix /
    resized_px`` Å). Only ``settings`` where they filter already (a low-pass
    or a Gaussian the user chose). Each comes with its name for the log."""
    if settings.lowpass_A or settings.gaussian_sigma_px:
        return [("as given", settings)]
    network_px_A = settings.boxsize_px * settings.apix / settings.resized_px
    out = [("no low-pass", settings)]
    for k in LOWPASS_CANDIDATES_NETWORK_PX:
        lowpass_A = round(k * network_px_A, 1)
        if lowpass_A >= 2 * settings.apix:
            out.append((f"low-pass {lowpass_A:g} Å ({k} network pixels)", replace(settings, lowpass_A=lowpass_A)))
    return out
