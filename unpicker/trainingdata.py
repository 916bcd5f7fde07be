"""Gathering a training set: every ``<mic><train_root>`` with its micrograph,
boxes extracted once into one float32 array, and a validation split by micrograph.

Besides the user's picks, a training set can hold boxes *beside* the
particles the user kept, labelled non-particle: for a share of the P picks,
a point 0.4-0.5 of a box away in a random direction, dropped where it comes
within 0.35 of a box of any P pick or leaves the micrograph. Most picks
users remove on real data lie beside a particle (BENCHMARKS.md); these boxes
give the network more of them. They are never used for validation, and
since 2026-11-28 not by default (``unpicker_train.py --beside_negatives``).
Training weighs them on top of the user's removals, not among them
(:func:`unpicker.train.loss_weights`; counted among them, they made the
scores of new picks overconfident: BENCHMARKS.md).

Memory: one float32 box of ``resized_px``² pixels is 4·resized_px² bytes
(4 KiB at 32, 16 KiB at 64); 10,000 picks take 40 MB at 32 px, and the boxes
beside particles up to half as much again at a fraction of 0.5. Micrographs are
read one at a time (at most ``num_cores`` in flight) and dropped after their
boxes are cut, so the micrograph size does not add up.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from .coords import outside_micrograph, outside_warning
from .ctf import CtfParams
from .dataset import micrograph_boxes
from .mrcio import read_micrograph
from .preprocess import Preprocessing
from .trainingset import TrainingPicks

BESIDE_DISTANCE = (0.4, 0.5)   # how far from a P pick a box beside it lies, in box sizes
BESIDE_CLEARANCE = 0.35        # how close to any P pick it may come, in box sizes


@dataclass
class TrainingSet:
    boxes: np.ndarray          # (n, s, s) float32
    is_particle: np.ndarray    # (n,) bool
    micrograph: np.ndarray     # (n,) int, index into names
    names: list[str]
    beside: np.ndarray | None = None   # (n,) bool: True for the boxes beside particles (not user picks)
    warnings: list[str] = field(default_factory=list)   # per micrograph, in order: picks outside it

    def __post_init__(self) -> None:
        if self.beside is None:
            self.beside = np.zeros(len(self.boxes), bool)


def beside_points(xy: np.ndarray, is_particle: np.ndarray, boxsize_px: int, fraction: float,
                  shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Points beside the particles of one micrograph, as (m, 2) (x, y) pixels.

    For each P pick with probability ``fraction``, a point ``BESIDE_DISTANCE``
    box sizes away in a random direction; points within ``BESIDE_CLEARANCE``
    box sizes of any P pick, or outside the ``shape`` (ny, nx) micrograph,
    are dropped."""
    particles = xy[is_particle]
    chosen = particles[rng.random(len(particles)) < fraction]
    angle = rng.uniform(0.0, 2.0 * np.pi, len(chosen))
    distance = rng.uniform(*BESIDE_DISTANCE, len(chosen)) * boxsize_px
    points = chosen + distance[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    if len(points) == 0:
        return np.zeros((0, 2))
    clear = cKDTree(particles).query(points)[0] >= BESIDE_CLEARANCE * boxsize_px
    return points[clear & ~outside_micrograph(points, shape)]


def extract_training_set(items: list[tuple[str, Path, TrainingPicks]], settings: Preprocessing,
                         ctfs: dict[str, CtfParams] | None = None, num_cores: int = 1,
                         progress: bool = True, beside_fraction: float = 0.0, seed: int = 0) -> TrainingSet:
    """Boxes of every labelled pick, then (``beside_fraction`` > 0) the boxes
    beside the particles (:func:`beside_points`, labelled N, ``beside``
    True), drawn reproducibly from ``seed``. ``items``: (micrograph name, MRC
    path, picks)."""
    from tqdm import tqdm

    counts = [len(p.xy) for _, _, p in items]
    total = sum(counts)
    boxes = np.empty((total, settings.resized_px, settings.resized_px), np.float32)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    extra: list[np.ndarray] = [np.zeros((0, settings.resized_px, settings.resized_px), np.float32)] * len(items)
    warnings: list[str | None] = [None] * len(items)

    def work(i: int) -> int:
        name, path, picks = items[i]
        ctf = ctfs.get(name) if (ctfs and settings.ctf_flip) else None
        if settings.ctf_flip and ctf is None:
            raise ValueError(f"{name}: not in the CTF file")
        image, _ = read_micrograph(path)
        warnings[i] = outside_warning(picks.xy, image.shape, picks.source or name, Path(path).name, picks.row_lines)
        xy = picks.xy
        if beside_fraction > 0:
            rng = np.random.default_rng([seed, i])
            xy = np.concatenate([xy, beside_points(picks.xy, picks.is_particle, settings.boxsize_px,
                                                   beside_fraction, image.shape, rng)])
        cut = micrograph_boxes(image, xy, settings, ctf)
        boxes[starts[i]:starts[i + 1]] = cut[:counts[i]]
        extra[i] = cut[counts[i]:]
        return i

    with ThreadPoolExecutor(max(1, num_cores)) as pool:
        for _ in tqdm(pool.map(work, range(len(items))), total=len(items), desc="Extracting boxes",
                      unit="micrograph", disable=not progress):
            pass
    labels = np.concatenate([p.is_particle for _, _, p in items]) if items else np.zeros(0, bool)
    mic = np.repeat(np.arange(len(items)), counts)
    n_extra = [len(e) for e in extra]
    if sum(n_extra):
        boxes = np.concatenate([boxes, *extra])
        labels = np.concatenate([labels, np.zeros(sum(n_extra), bool)])
        mic = np.concatenate([mic, np.repeat(np.arange(len(items)), n_extra)])
    beside = np.arange(len(boxes)) >= total
    return TrainingSet(boxes, labels, mic, [n for n, _, _ in items], beside, [w for w in warnings if w])


def split_by_micrograph(ts: TrainingSet, validation_fraction: float, seed: int
                        ) -> tuple[np.ndarray, list[str], str]:
    """A boolean mask of the validation boxes: whole micrographs, at least one,
    chosen reproducibly from ``seed``. With a single micrograph, a random
    split of its picks. Returns (mask, validation micrograph names, note)."""
    rng = np.random.default_rng(seed)
    n_mics = len(ts.names)
    if validation_fraction <= 0:
        return np.zeros(len(ts.boxes), bool), [], "no validation set (--validation_fraction 0)"
    if n_mics == 1:
        mask = rng.random(len(ts.boxes)) < validation_fraction
        return mask, [], ("only one training micrograph: validation uses a random"
                          f" {100 * validation_fraction:.0f}% of its picks (optimistic)")
    n_val = min(max(1, math.ceil(validation_fraction * n_mics)), n_mics - 1)
    chosen = sorted(rng.choice(n_mics, size=n_val, replace=False).tolist())
    mask = np.isin(ts.micrograph, chosen)
    names = [ts.names[i] for i in chosen]
    return mask, names, f"validation micrographs: {', '.join(names)}"
