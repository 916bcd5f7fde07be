"""Options and helpers shared by unpicker_train.py and unpicker_eval.py (the original's help texts)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..formats.relion import CoordinateList

# option -> (settings field, type, original default, original help text)
PREPROCESSING_OPTIONS = {
    "boxsize": ("boxsize_px", int, 200, "Boxsize to use when extracting particles"),
    "sigma_contrast": ("sigma_contrast", float, 0.0, "Sigma contrast to apply to image before particle extraction"),
    "lowpass": ("lowpass_A", float, 0.0, "Lowpass filter resolution to apply"),
    "highpass": ("highpass_A", float, 0.0, "Highpass filter resolution to apply"),
    "gaussian_sigma": ("gaussian_sigma_px", float, 0.0, "Gaussian filter sigma to apply"),
    "resized_box": ("resized_px", int, 32, "Resize boxsize used for training"),
}


def add_preprocessing_arguments(p: argparse.ArgumentParser, with_defaults: bool) -> None:
    """The preprocessing flags. Without defaults (evaluation) an omitted flag
    means 'as the model was trained'."""
    for flag, (_, typ, default, text) in PREPROCESSING_OPTIONS.items():
        suffix = f" (default {default})" if with_defaults else " (default: as in the model file)"
        p.add_argument(f"--{flag}", type=typ, default=default if with_defaults else None, help=text + suffix)
    p.add_argument("--apix", type=float, default=None,
                   help="Angstroms per pixel in mrc file (default: the MRC header, else 1.0)")
    p.add_argument("--num_cores", type=int, default=4, help="Number of cores to use (default 4)")
    p.add_argument("--image_dir", default=os.curdir,
                   help="Directory containing micrographs (default: the current directory)")
    p.add_argument("--ctf_star", default=None,
                   help="micrographs_ctf.star (RELION 3.0 or 3.1+): phase-flip each micrograph with its own CTF")
    p.add_argument("--no_progress", action="store_true", help="no progress bars (for log files)")


def listed_micrographs(listed: CoordinateList, image_dir: str) -> list[Path]:
    """The micrographs of a RELION 4/5 coordinate list: the paths it lists,
    or, when ``--image_dir`` was given, the files of those names in it."""
    return listed.micrograph_paths(None if image_dir == os.curdir else image_dir)
