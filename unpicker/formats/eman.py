"""EMAN ``.box`` files: one pick a line, ``x_lowerleft y_lowerleft width height [score]``,
in pixels, the box's corner rather than its centre."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .star import StarError


def read_box_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an EMAN ``.box`` file.

    Returns the (n, 2) box centres ``(x + width/2, y + height/2)`` in pixels and
    the (n,) scores (NaN where the file has no score column).
    """
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines()):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            values = [float(v) for v in fields[:5]]
        except ValueError:
            raise StarError(f"{path}:{n + 1}: not a number in {line[:60]!r}") from None
        if len(values) < 4:
            raise StarError(f"{path}:{n + 1}: expected x y width height, found {len(values)} values")
        rows.append(values + [np.nan] * (5 - len(values)))
    a = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return a[:, :2] + a[:, 2:4] / 2, a[:, 4]
