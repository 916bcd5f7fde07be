"""What unpicking shows besides the coordinate files (which the formats'
writers write, :mod:`unpicker.formats`): a histogram of every score."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .files import atomic_output
from .guard import PLOT, SOFTWARE


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
