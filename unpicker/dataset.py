"""From micrograph files and picks to network inputs, shared by training and
evaluation so the two always prepare boxes the same way."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .boxes import extract_boxes, normalise_boxes
from .ctf import CtfParams
from .mrcio import read_micrograph
from .preprocess import Preprocessing, preprocess_with_stats


def micrograph_boxes(image: np.ndarray, xy: np.ndarray, settings: Preprocessing,
                     ctf: CtfParams | None = None, workers: int = 1) -> np.ndarray:
    """Preprocess one micrograph and return its normalised boxes,
    (n, resized_px, resized_px) float32."""
    return processed_boxes(*preprocess_with_stats(image, settings, ctf, workers), xy, settings)


def processed_boxes(processed: np.ndarray, mean: float, sd: float, xy: np.ndarray,
                    settings: Preprocessing) -> np.ndarray:
    """The normalised boxes of ``xy`` cut from an already preprocessed
    micrograph whose mean and standard deviation are ``mean`` and ``sd``."""
    boxes = extract_boxes(processed, xy, settings.boxsize_px, settings.resized_px, fill=mean)
    return normalise_boxes(boxes, settings.normalisation, mean, sd)


def load_boxes(mrc_path: str | Path, xy: np.ndarray, settings: Preprocessing,
               ctf: CtfParams | None = None, workers: int = 1) -> np.ndarray:
    """Read a micrograph and return the boxes of ``xy`` (see :func:`micrograph_boxes`)."""
    image, _ = read_micrograph(mrc_path)
    return micrograph_boxes(image, xy, settings, ctf, workers)
