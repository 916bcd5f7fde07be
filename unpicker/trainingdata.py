"""Gathering a training set: every ``<mic><train_root>`` with its micrograph,
boxes extracted once into one float32 array, and a validation split by micrograph.

Memory: one float32 box of ``resized_px``² pixels is 4·resized_px² bytes
(4 KiB at 32, 16 KiB at 64); 10,000 picks take 40 MB at 32 px. Micrographs are
read one at a time (at most ``num_cores`` in flight) and dropped after their
boxes are cut, so the micrograph size does not add up.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .ctf import CtfParams
from .dataset import load_boxes
from .preprocess import Preprocessing
from .trainingset import TrainingPicks


@dataclass
class TrainingSet:
    boxes: np.ndarray          # (n, s, s) float32
    is_particle: np.ndarray    # (n,) bool
    micrograph: np.ndarray     # (n,) int, index into names
    names: list[str]


def extract_training_set(items: list[tuple[str, Path, TrainingPicks]], settings: Preprocessing,
                         ctfs: dict[str, CtfParams] | None = None, num_cores: int = 1,
                         progress: bool = True) -> TrainingSet:
    """Boxes of every labelled pick. ``items``: (micrograph name, MRC path, picks)."""
    from tqdm import tqdm

    counts = [len(p.xy) for _, _, p in items]
    total = sum(counts)
    boxes = np.empty((total, settings.resized_px, settings.resized_px), np.float32)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)

    def work(i: int) -> int:
        name, path, picks = items[i]
        ctf = ctfs.get(name) if (ctfs and settings.ctf_flip) else None
        if settings.ctf_flip and ctf is None:
            raise ValueError(f"{name}: not in the CTF file")
        boxes[starts[i]:starts[i + 1]] = load_boxes(path, picks.xy, settings, ctf)
        return i

    with ThreadPoolExecutor(max(1, num_cores)) as pool:
        for _ in tqdm(pool.map(work, range(len(items))), total=len(items), desc="Extracting boxes",
                      unit="micrograph", disable=not progress):
            pass
    labels = np.concatenate([p.is_particle for _, _, p in items]) if items else np.zeros(0, bool)
    mic = np.repeat(np.arange(len(items)), counts)
    return TrainingSet(boxes, labels, mic, [n for n, _, _ in items])


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
