"""Labelled training sets: which autopicks the user kept (P) and removed (N).

A training file is a RELION STAR table of the autopicks with one column
added after all of its columns, ``_unpickerLabel``, holding ``P`` (the pick
is in the user's cleaned file) or ``N`` (the user removed it); picks the
user added by hand are appended as ``P`` rows. From a RELION autopick file
it is that file with the column added (every other line as it was); from
another picker's file, a table of the picks' centres (in micrograph pixels)
and figures of merit. The original emUnpicker wrote the label as an
undeclared sixth field on each row; :func:`read_training_file` reads both.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from .formats.picks import MicrographPicks
from .formats.relion import FOM_COLUMN, X_COLUMN, Y_COLUMN, Picks, read_picks
from .formats.star import StarError, edit_loop, format_loop_block

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


def _matched(auto: MicrographPicks, other: MicrographPicks, match_distance_px: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """(per autopick: in ``other``; per pick of ``other``: not an autopick):
    by cryoSPARC's uids where both files have them, else by position."""
    if auto.uid is not None and other.uid is not None:
        return np.isin(auto.uid, other.uid), ~np.isin(other.uid, auto.uid)
    return match_picks(auto.xy, other.xy, match_distance_px)


def label_micrograph(auto: MicrographPicks, correct: MicrographPicks, match_distance_px: float = 1.0,
                     rejected: MicrographPicks | None = None) -> Labelled:
    """The training file of one micrograph (see the module docstring).

    ``correct``: the picks the user kept (and any added by hand);
    ``rejected``, when given (a cryoSPARC "rejected" set, say): the picks
    the user removed; the autopicks in neither were not reviewed and are
    left out. Without it every autopick not kept counts as removed."""
    kept, added = _matched(auto, correct, match_distance_px)
    reviewed = np.ones(len(auto), bool) if rejected is None else kept | _matched(auto, rejected,
                                                                                  match_distance_px)[0]
    labels = np.where(kept, "P", "N")[reviewed].tolist()
    n_p, n_n = int(kept.sum()) + int(added.sum()), int((reviewed & ~kept).sum())
    record = auto.record
    if isinstance(record, Picks) and np.array_equal(record.xy, auto.xy):   # RELION, at the micrograph's scale
        extra_rows = []
        correct_block = correct.record.block if isinstance(correct.record, Picks) else None
        for i in np.flatnonzero(added):
            row = []
            for col in record.block.columns:
                if col in (X_COLUMN, Y_COLUMN):
                    row.append(f"{correct.xy[i, 0 if col == X_COLUMN else 1]:.6f}" if correct_block is None
                               else correct_block.rows[i][correct_block.column_index(col)])
                elif correct_block is not None and correct_block.has_columns(col):
                    row.append(correct_block.rows[i][correct_block.column_index(col)])
                else:
                    row.append(UNSET_VALUE)
            extra_rows.append(row + ["P"])
        text = edit_loop(record.star, record.block, keep=reviewed, new_columns={LABEL_COLUMN: labels},
                         extra_rows=extra_rows)
        return Labelled(text, n_p, n_n, int(added.sum()))
    fom = auto.fom if auto.fom is not None and np.isfinite(auto.fom).any() else None
    columns = [X_COLUMN, Y_COLUMN] + ([FOM_COLUMN] if fom is not None else []) + [LABEL_COLUMN]
    rows = [[f"{x:.4f}", f"{y:.4f}"] + ([f"{f:.6g}"] if fom is not None else []) + [label]
            for (x, y), f, label in zip(auto.xy[reviewed], (fom if fom is not None else auto.xy[:, 0])[reviewed],
                                        labels)]
    rows += [[f"{x:.4f}", f"{y:.4f}"] + ([UNSET_VALUE] if fom is not None else []) + ["P"]
             for x, y in correct.xy[added]]
    return Labelled(format_loop_block("coordinates", columns, rows, "version 30001"), n_p, n_n, int(added.sum()))


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

