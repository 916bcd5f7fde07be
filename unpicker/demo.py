"""A built-in demo data set, generated on the fly (pure numpy/scipy).

Each micrograph holds particles (projections of one 3D density made of
Gaussian blobs, at random orientations), junk (ice contamination, a carbon
edge, aggregates of particles, small fragments), the CTF and noise. A simple
Laplacian-of-Gaussian autopicker picks blobs of the particle size, and so
picks junk as well, as real autopickers do. The truth of each pick is known:
a pick is a particle when it lies within a quarter diameter of an isolated
particle's centre.

Written as a RELION-style micrographs folder: ``<mic>.mrc``,
``<mic>_autopick.star`` (LoG picks with their score as
``_rlnAutopickFigureOfMerit``), ``<mic>_autopick_correct.star`` for the first
few micrographs (the picks a careful user would keep), and
``<mic>_truth.star`` (every autopick with ``_demoTruth`` P/N) for scoring.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mrcfile
import numpy as np
from scipy import ndimage

from .files import atomic_write_text
from .formats.star import format_loop_block
from .images.ctf import CtfParams, ctf_values

AUTOPICK_COLUMNS = ["rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit", "rlnClassNumber", "rlnAnglePsi"]


@dataclass(frozen=True)
class DemoConfig:
    size_px: int = 1024          # micrographs are size_px x size_px
    apix: float = 3.0            # Å per pixel
    diameter_px: int = 36        # particle diameter
    particles: int = 50          # isolated particles per micrograph
    aggregates: int = 3          # clumps of 4-7 particles (junk)
    fragments: int = 15          # small broken pieces (junk)
    ice_blobs: int = 4           # ice contamination (junk)
    carbon_edge: bool = True     # a carbon edge across part of the micrograph
    snr: float = 0.08            # signal-to-noise ratio of a particle (variance ratio)
    defocus_A: float = 15000.0
    pick_spacing: float = 0.8    # the picker's least distance between picks, in diameters
    overpick: float = 1.6        # picks per micrograph, as a multiple of the objects on it

    @classmethod
    def level(cls, name: str, size_px: int = 1024) -> "DemoConfig":
        """Named difficulties: ``easy`` (little junk, clear particles), ``hard``
        (much junk, low SNR), ``lowsnr`` (the junk of ``hard`` at less than
        half its SNR, over-picked as a template picker does: picks in the gaps
        between objects, off-centre picks and second picks on one particle,
        which a careful user removes), ``tiny`` (for the test suite)."""
        if name == "easy":
            return cls(size_px=size_px, snr=0.25, aggregates=1, fragments=6, ice_blobs=2)
        if name == "hard":
            return cls(size_px=size_px, snr=0.05, aggregates=5, fragments=30, ice_blobs=6)
        if name == "lowsnr":
            return cls(size_px=size_px, snr=0.02, aggregates=5, fragments=30, ice_blobs=6,
                       pick_spacing=0.5, overpick=2.5)
        if name == "tiny":
            return cls(size_px=256, particles=10, aggregates=1, fragments=4, ice_blobs=1, snr=0.3)
        if name == "medium":
            return cls(size_px=size_px)
        raise ValueError(f"unknown difficulty {name!r}: easy, medium, hard, lowsnr or tiny")


def _density(rng: np.random.Generator, radius: float, n_blobs: int = 9) -> np.ndarray:
    """Blob centres (n, 3) of an elongated, asymmetric 3D density."""
    pts = rng.normal(size=(n_blobs, 3)) * np.array([0.55, 0.4, 0.3]) * radius
    return pts


def _random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)], 1)


def _splat(shape, points_xy: np.ndarray, weights: np.ndarray) -> np.ndarray:
    img = np.zeros(shape, np.float64)
    ix = np.clip(np.round(points_xy[:, 0]).astype(int), 0, shape[1] - 1)
    iy = np.clip(np.round(points_xy[:, 1]).astype(int), 0, shape[0] - 1)
    np.add.at(img, (iy, ix), weights)
    return img


def _place(rng, n, size, margin, existing, min_dist):
    out = []
    tries = 0
    while len(out) < n and tries < 200 * (n + 1):
        tries += 1
        p = rng.uniform(margin, size - margin, 2)
        if all(np.hypot(*(p - q)) >= min_dist for q in existing + out):
            out.append(p)
    return out


def make_micrograph(rng: np.random.Generator, cfg: DemoConfig, density: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """One micrograph. Returns (image float32, (n, 2) isolated particle centres,
    list of junk centres (for reference))."""
    shape = (cfg.size_px, cfg.size_px)
    d = cfg.diameter_px
    r = d / 2
    blob_sigma = d / 9
    margin = d
    particles = _place(rng, cfg.particles, cfg.size_px, margin, [], 1.3 * d)
    aggregate_centres = _place(rng, cfg.aggregates, cfg.size_px, 2 * d, particles, 2.2 * d)
    fragments = _place(rng, cfg.fragments, cfg.size_px, margin, particles + aggregate_centres, 1.1 * d)

    pts, wts = [], []
    centres = list(particles)
    for c in aggregate_centres:
        for _ in range(rng.integers(4, 8)):
            centres.append(c + rng.normal(size=2) * 0.45 * d)
    rots = _random_rotations(rng, len(centres))
    for c, R in zip(centres, rots):
        proj = (density @ R.T)[:, :2]
        pts.append(c + proj)
        wts.append(np.ones(len(proj)))
    for c in fragments:
        k = rng.integers(1, 3)
        pts.append(c + rng.normal(size=(k, 2)) * 0.2 * r)
        wts.append(np.full(k, 1.3))
    signal = ndimage.gaussian_filter(_splat(shape, np.concatenate(pts), np.concatenate(wts)), blob_sigma)

    # CTF (phase contrast) on the particle signal
    ctf = CtfParams(cfg.defocus_A * rng.uniform(0.8, 1.2), cfg.defocus_A * rng.uniform(0.8, 1.2),
                    rng.uniform(0, 180), 300.0, 2.7, 0.1)
    fy = np.fft.fftfreq(shape[0])[:, None] / cfg.apix
    fx = np.fft.rfftfreq(shape[1])[None, :] / cfg.apix
    signal = np.fft.irfft2(np.fft.rfft2(signal) * ctf_values(ctf, fy, fx), s=shape)
    particle_var = signal.var()
    noise_sd = np.sqrt(particle_var / cfg.snr)

    junk = np.zeros(shape)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    ice = _place(rng, cfg.ice_blobs, cfg.size_px, 0, [], 3 * d)
    for c in ice:
        rad = rng.uniform(0.6, 1.6) * d
        junk -= 6 * noise_sd * np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * rad**2))
    if cfg.carbon_edge:
        ang = rng.uniform(0, np.pi)
        offset = rng.uniform(0.55, 0.8) * cfg.size_px
        dist = (xx - cfg.size_px / 2) * np.cos(ang) + (yy - cfg.size_px / 2) * np.sin(ang) + cfg.size_px / 2 - offset
        junk += 2.5 * noise_sd * (dist > 0) + ndimage.gaussian_filter(
            rng.normal(size=shape), 3) * noise_sd * 4 * (dist > 0)
    image = signal + junk + rng.normal(size=shape) * noise_sd
    # shift to positive counts like a real micrograph
    image = (image - image.min()) / (image.max() - image.min()) * 200 + 10
    return image.astype(np.float32), np.array(particles).reshape(-1, 2), ice + fragments + aggregate_centres


def log_autopick(image: np.ndarray, diameter_px: float, n_max: int, min_dist_px: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """A simple Laplacian-of-Gaussian picker: the strongest blob-like extrema of
    the particle size. Returns (n, 2) picks (x, y) and their scores."""
    sigma = diameter_px / (2 * np.sqrt(2))
    img = image.astype(np.float64)
    img = (img - img.mean()) / img.std()
    response = np.abs(ndimage.gaussian_laplace(img, sigma)) * sigma**2
    size = int(min_dist_px or diameter_px * 0.8) | 1
    peaks = (response == ndimage.maximum_filter(response, size=size))
    border = int(diameter_px / 4)
    peaks[:border], peaks[-border:], peaks[:, :border], peaks[:, -border:] = False, False, False, False
    ys, xs = np.nonzero(peaks)
    scores = response[ys, xs]
    order = np.argsort(-scores)[:n_max]
    return np.stack([xs[order], ys[order]], 1).astype(np.float64), scores[order]


def truth_of_picks(picks: np.ndarray, particles: np.ndarray, diameter_px: float) -> np.ndarray:
    """True where a pick lies within a quarter diameter of an isolated
    particle's centre; where two picks do so for one particle, only the
    nearer is true (the other is a duplicate a user removes)."""
    truth = np.zeros(len(picks), bool)
    if len(picks) == 0 or len(particles) == 0:
        return truth
    d = np.hypot(picks[:, None, 0] - particles[None, :, 0], picks[:, None, 1] - particles[None, :, 1])
    nearest = d.argmin(axis=1)
    close = d[np.arange(len(picks)), nearest] <= diameter_px / 4
    for k in np.unique(nearest[close]):
        candidates = np.flatnonzero(close & (nearest == k))
        truth[candidates[d[candidates, k].argmin()]] = True
    return truth


def _pick_rows(xy: np.ndarray, score: np.ndarray) -> list[list[str]]:
    return [[f"{x:.6f}", f"{y:.6f}", f"{s:.6f}", "0", "-999.000000"] for (x, y), s in zip(xy, score)]


def write_demo(folder: str | Path, n_micrographs: int = 8, n_cleaned: int = 3, level: str = "medium",
               seed: int = 0, size_px: int | None = None) -> list[str]:
    """Write a demo micrographs folder; returns the micrograph names.

    The first ``n_cleaned`` micrographs get ``_autopick_correct.star`` files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = DemoConfig.level(level, **({"size_px": size_px} if size_px else {}))
    rng = np.random.default_rng(seed)
    density = _density(rng, cfg.diameter_px / 2)
    names = []
    n_pick = int(cfg.overpick * (cfg.particles + 5 * cfg.aggregates + cfg.fragments))
    for i in range(n_micrographs):
        name = f"demo_{level}_{i:03d}"
        image, particles, _ = make_micrograph(rng, cfg, density)
        with mrcfile.new(folder / f"{name}.mrc", overwrite=True) as mrc:
            mrc.set_data(image)
            mrc.voxel_size = cfg.apix
        picks, scores = log_autopick(image, cfg.diameter_px, n_pick, cfg.pick_spacing * cfg.diameter_px)
        truth = truth_of_picks(picks, particles, cfg.diameter_px)
        rows = _pick_rows(picks, scores)
        header = "version 30001"
        atomic_write_text(folder / f"{name}_autopick.star", format_loop_block("coordinates", AUTOPICK_COLUMNS, rows, header))
        atomic_write_text(folder / f"{name}_truth.star", format_loop_block(
            "coordinates", AUTOPICK_COLUMNS + ["demoTruth"],
            [r + ["P" if t else "N"] for r, t in zip(rows, truth)], header))
        if i < n_cleaned:
            atomic_write_text(folder / f"{name}_autopick_correct.star", format_loop_block(
                "coordinates", AUTOPICK_COLUMNS, [r for r, t in zip(rows, truth) if t], header))
        names.append(name)
    return names
