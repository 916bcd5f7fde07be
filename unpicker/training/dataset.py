"""The training set: the boxes of every labelled pick, extracted once into one
float32 array, and a validation split by whole micrographs.

Memory: one float32 box of ``resized_px``² pixels is 4·resized_px² bytes
(4 KiB at 32, 16 KiB at 64); 10,000 picks take 40 MB at 32 px. Micrographs
are read a few at a time (at most ``num_cores`` in flight) and dropped after
their boxes are cut, so the micrograph size does not add up.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats.mrc import MicrographError, blank_warning, read_micrograph
from ..images.boxes import box_too_large, micrograph_boxes, outside_warning
from ..images.ctf import CtfParams
from ..images.preprocess import Preprocessing
from ..labels import TrainingPicks


@dataclass
class TrainingSet:
    """Every labelled pick's box.

    Attributes:
        boxes: (n, s, s) float32 standardised boxes.
        is_particle: (n,) bool labels (True: P).
        micrograph: (n,) int, each box's micrograph, an index into ``names``.
        names: the micrographs, in the order given.
        warnings: in micrograph order, warnings about picks outside a
            micrograph, or a micrograph that is blank.
    """

    boxes: np.ndarray
    is_particle: np.ndarray
    micrograph: np.ndarray
    names: list[str]
    warnings: list[str] = field(default_factory=list)


def extract_training_set(items: list[tuple[str, Path, TrainingPicks]], settings: Preprocessing,
                         ctfs: dict[str, CtfParams] | None = None, num_cores: int = 1,
                         progress: bool = True, fill_nonfinite: bool = False) -> TrainingSet:
    """The boxes of every labelled pick. ``items``: (micrograph name, MRC path,
    picks); ``ctfs``: each micrograph's CTF by name, when ``settings.ctf_flip``.
    Raises :class:`~unpicker.formats.mrc.MicrographError` naming the
    micrograph that cannot be read or is too small for the box."""
    from tqdm import tqdm

    counts = [len(p.xy) for _, _, p in items]
    boxes = np.empty((sum(counts), settings.resized_px, settings.resized_px), np.float32)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    warnings: list[list[str]] = [[] for _ in items]

    def work(i: int) -> int:
        name, path, picks = items[i]
        ctf = ctfs.get(name) if (ctfs and settings.ctf_flip) else None
        if settings.ctf_flip and ctf is None:
            raise ValueError(f"{name}: not in the CTF file")
        image, _ = read_micrograph(path, fill_nonfinite)
        too_large = box_too_large(image.shape, settings.boxsize_px, str(path))
        if too_large:
            raise MicrographError(too_large)
        warnings[i] = [w for w in (blank_warning(image, path), outside_warning(
            picks.xy, image.shape, picks.source or name, Path(path).name, picks.row_lines)) if w]
        boxes[starts[i]:starts[i + 1]] = micrograph_boxes(image, picks.xy, settings, ctf)
        return i

    with ThreadPoolExecutor(max(1, num_cores)) as pool:
        for _ in tqdm(pool.map(work, range(len(items))), total=len(items), desc="Extracting boxes",
                      unit="micrograph", disable=not progress):
            pass
    labels = np.concatenate([p.is_particle for _, _, p in items]) if items else np.zeros(0, bool)
    mic = np.repeat(np.arange(len(items)), counts)
    return TrainingSet(boxes, labels, mic, [n for n, _, _ in items], [w for ws in warnings for w in ws])


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
