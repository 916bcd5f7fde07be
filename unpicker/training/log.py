"""What training reports: the original's log lines every 100 steps, the same
figures as CSV rows (``unpickModel.out.log.csv``), and a plot of them
(``unpickModel.out.png``)."""
from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TextIO

from ..files import atomic_output
from ..guard import PLOT, SOFTWARE

FIELDS = ("step", "epoch", "loss", "minibatch_error", "validation_error", "learning_rate")


class TrainingLog:
    """The log of one training: :meth:`record` writes a CSV row and the
    original's lines (``Epoch 0.21``, ``Step 100``, ``Minibatch loss: ...``,
    ``Step 100 model saved in file unpickModel.out-100``) to ``out``, through
    ``write`` (a progress bar's, so that lines and bar do not mix)."""

    def __init__(self, csv_path: Path, out: TextIO, write=None) -> None:
        self.history: list[dict] = []
        self.out = out
        self.write = write or (lambda text, file: print(text, file=file))
        self._file = open(csv_path, "w", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=FIELDS)
        self._csv.writeheader()

    def record(self, row: dict, checkpoint: Path) -> None:
        self.history.append(row)
        self._csv.writerow(row)
        self._file.flush()
        self.write(f"Epoch {row['epoch']:.2f}\nStep {row['step']}\n"
                   f"Minibatch loss: {row['loss']:.3f}, learning rate: {row['learning_rate']:.6f}\n"
                   f"Minibatch error: {row['minibatch_error']:.1f}%\n"
                   f"Validation error: {row['validation_error']:.1f}%\n"
                   f"Step {row['step']} model saved in file {checkpoint}", file=self.out)
        self.out.flush()

    def close(self) -> None:
        self._file.close()


def plot_history(history: list[dict], path: Path) -> None:
    """Loss, minibatch and validation error against the step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(steps, [h["loss"] for h in history], label="minibatch loss")
    a1.set_xlabel("step"), a1.set_ylabel("loss"), a1.legend()
    a2.plot(steps, [h["minibatch_error"] for h in history], label="minibatch error")
    a2.plot(steps, [h["validation_error"] for h in history], label="validation error")
    a2.set_xlabel("step"), a2.set_ylabel("error (%)"), a2.legend()
    fig.tight_layout()
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=100, metadata={"Software": f"{SOFTWARE} ({PLOT})"})
    except Exception as e:  # a plot is a convenience; never fail training for it
        print(f"Could not draw the training plot {path}: {e}", file=sys.stderr)
    finally:
        plt.close(fig)
