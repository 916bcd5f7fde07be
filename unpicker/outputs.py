"""The unpicked outputs: each micrograph's kept picks as a copy of its
coordinate file (every header line, column and kept row's text as the user
had it) with the score appended, the removed picks likewise on request, and
a histogram of every score."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .files import atomic_output, atomic_write_text
from .formats.relion import Picks
from .formats.star import edit_loop, read_marker, with_marker
from .guard import PLOT, REJECTED, SOFTWARE, UNPICKED

SCORE_COLUMN = "unpickerScore"


def write_outputs(picks: Picks, prob: np.ndarray, threshold: float, output_path: Path,
                  rejected_path: Path | None = None, settings: str = "") -> int:
    """Write the picks whose probability ``prob`` is at least ``threshold`` to
    ``output_path``, with their score, and the others to ``rejected_path``
    when given; each file ends with emUnpicker's marker and ``settings`` (what
    it was unpicked with: a re-run with other settings redoes it). Returns
    the number kept."""
    keep = prob >= threshold
    scores = [f"{p:.4f}" for p in prob]
    kept_scores = [s for s, k in zip(scores, keep) if k]
    atomic_write_text(output_path, with_marker(
        edit_loop(picks.star, picks.block, keep, {SCORE_COLUMN: kept_scores}), UNPICKED, settings))
    if rejected_path is not None:
        rejected = [s for s, k in zip(scores, keep) if not k]
        atomic_write_text(rejected_path, with_marker(
            edit_loop(picks.star, picks.block, ~keep, {SCORE_COLUMN: rejected}), REJECTED, settings))
    return int(keep.sum())


def unpicked_with(path: Path) -> str | None:
    """The settings an output of :func:`write_outputs` says it was unpicked
    with; None when it is not one (or has no marker)."""
    marker = read_marker(path)
    return marker[1] if marker and marker[0] in (UNPICKED, REJECTED) else None


def plot_score_histogram(scores: np.ndarray, threshold: float, path: str | Path) -> None:
    """A histogram PNG of the particle probabilities with the threshold marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(scores, bins=50, range=(0, 1), color="0.4")
    ax.axvline(threshold, color="red", label=f"threshold {threshold:.2f}")
    ax.set_xlabel("P(particle)  (_unpickerScore)")
    ax.set_ylabel("picks")
    ax.set_title(f"{len(scores)} picks, {int((scores >= threshold).sum())} kept")
    ax.legend()
    fig.tight_layout()
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=100, metadata={"Software": f"{SOFTWARE} ({PLOT})"})
    finally:
        plt.close(fig)
