"""Labelled training sets: which autopicks the user kept (P) and removed (N).

A training file is the autopick file with one column added after all of its
columns, ``_unpickerLabel``, holding ``P`` (the pick is in the user's cleaned
file) or ``N`` (the user removed it). Picks the user added by hand are
appended as ``P`` rows. The original emUnpicker wrote the label as an
undeclared sixth field on each row; :func:`read_training_file` reads both.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from .formats.relion import Picks, read_picks
from .formats.star import StarError, edit_loop

LABEL_COLUMN = "unpickerLabel"
# RELION writes -999 for values a manual pick does not have (figure of merit, psi).
UNSET_VALUE = "-999"


@dataclass
class Labelled:
    """The result of matching one micrograph's autopicks with its cleaned copy."""

    text: str          # the training file's text
    n_particles: int   # P rows (kept autopicks + picks added by hand)
    n_removed: int     # N rows
    n_added: int       # P rows the user added by hand (no autopick within tolerance)


def match_picks(auto_xy: np.ndarray, correct_xy: np.ndarray, match_distance_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Match cleaned picks to autopicks by position, one to one.

    Returns ``kept`` (per autopick: a cleaned pick within
    ``match_distance_px`` is matched to it) and ``added`` (per cleaned pick:
    no autopick is left within the tolerance, so the user added it by hand).
    Pairs are matched closest first (ties in the order of the files), each
    pick at most once: two identical autopicks both kept in the cleaned copy
    are both kept, and one of them removed is one removed.
    """
    kept = np.zeros(len(auto_xy), bool)
    added = np.ones(len(correct_xy), bool)
    if len(auto_xy) and len(correct_xy):
        pairs = cKDTree(correct_xy).sparse_distance_matrix(cKDTree(auto_xy), match_distance_px,
                                                           output_type="ndarray")
        for i, j in zip(*(pairs[k][np.lexsort((pairs["j"], pairs["i"], pairs["v"]))] for k in ("i", "j"))):
            if added[i] and not kept[j]:
                added[i], kept[j] = False, True
    return kept, added


def label_micrograph(auto: Picks, correct: Picks, match_distance_px: float = 1.0) -> Labelled:
    """Build the training file text for one micrograph (see module docstring)."""
    kept, added = match_picks(auto.xy, correct.xy, match_distance_px)
    labels = np.where(kept, "P", "N").tolist()
    extra_rows = []
    for i in np.flatnonzero(added):
        row = []
        for col in auto.block.columns:
            if correct.block.has_columns(col):
                row.append(correct.block.rows[i][correct.block.column_index(col)])
            else:
                row.append(UNSET_VALUE)
        extra_rows.append(row + ["P"])
    text = edit_loop(auto.star, auto.block, new_columns={LABEL_COLUMN: labels}, extra_rows=extra_rows)
    n_p = int(kept.sum()) + len(extra_rows)
    return Labelled(text, n_p, int((~kept).sum()), len(extra_rows))


@dataclass
class TrainingPicks:
    """Coordinates and labels read from one training file."""

    xy: np.ndarray       # (n, 2) float64 pixels
    is_particle: np.ndarray  # (n,) bool, True for P
    source: str = ""     # the training file, for messages
    row_lines: list[int] | None = None   # each pick's 0-based line in it


def read_training_file(path: str | Path) -> TrainingPicks:
    """Read a training file written by this package (declared ``_unpickerLabel``)
    or by the original emUnpicker (undeclared sixth field P/N on each row)."""
    picks = read_picks(path, allow_extra_fields=True)
    block = picks.block
    if block.has_columns(LABEL_COLUMN):
        labels = block.column(LABEL_COLUMN)
        lines = block.row_lines
    else:
        ncol = len(block.columns)
        labels, lines = [], block.row_lines
        for row, line in zip(block.rows, lines):
            if len(row) != ncol + 1:
                raise StarError(
                    f"{path}:{line + 1}: no _{LABEL_COLUMN} column and no P/N label after the"
                    f" {ncol} declared values (is this a training file?)"
                )
            labels.append(row[-1])
    for label, line in zip(labels, lines):
        if label not in ("P", "N"):
            raise StarError(f"{path}:{line + 1}: label must be P or N, found {label!r}")
    return TrainingPicks(picks.xy, np.array([v == "P" for v in labels], bool), str(path), list(lines))

