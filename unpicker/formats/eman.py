"""EMAN ``.box`` files: one pick a line, ``x y width height [score ...]`` in
pixels, (x, y) the box's lower-left corner, so the centre is
``(x + width/2, y + height/2)``; crYOLO's older text ``.cbox`` is the same
with more columns (its fifth is the confidence)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .picks import CoordinateError, CoordinateFormat, MicrographPicks, register, scaled, score_text


def _rows(path: Path) -> tuple[list[str], list[int], np.ndarray]:
    """The file's lines, the indices of its pick rows, and the rows' first
    five numbers (score NaN where absent). Raises CoordinateError naming
    file, line and value."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise CoordinateError(f"{path}: cannot be read as a box file ({getattr(e, 'strerror', None) or e})") from None
    rows, values = [], []
    for n, line in enumerate(lines):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            numbers = [float(v) for v in fields[:5]]
        except ValueError:
            bad = next(v for v in fields[:5] if not _is_number(v))
            raise CoordinateError(f"{path}:{n + 1}: not a number: {bad!r} (expected x y width height [score])") \
                from None
        if len(numbers) < 4:
            raise CoordinateError(f"{path}:{n + 1}: expected x y width height [score], found {len(numbers)} values")
        if not np.isfinite(numbers[:4]).all():
            raise CoordinateError(f"{path}:{n + 1}: not a finite number in {line.strip()[:60]!r}")
        rows.append(n)
        values.append(numbers + [np.nan] * (5 - len(numbers)))
    return lines, rows, np.array(values, dtype=np.float64).reshape(-1, 5)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_box_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The (n, 2) box centres and (n,) scores (NaN where none) of a ``.box`` file."""
    _, _, a = _rows(Path(path))
    return a[:, :2] + a[:, 2:4] / 2, a[:, 4]


def read(path: Path, options, name: str | None = None, fmt: str = "box") -> list[MicrographPicks]:
    lines, rows, a = _rows(path)
    return [MicrographPicks(name or path.stem, scaled(a[:, :2] + a[:, 2:4] / 2, options), str(path), fmt, rows,
                            a[:, 4], record=(lines, rows))]


def scored_line(line: str, score: str) -> str:
    """A kept row with emUnpicker's score as its fifth value (the score
    column); a score the row had moves to the end of it. The other values
    keep their text."""
    fields = line.split()
    if len(fields) >= 5:
        fields.append(fields[4])
        fields[4] = score
    else:
        fields.append(score)
    return "\t".join(fields)


def write(path: Path, results, options, role: str, details: str) -> None:
    from ..files import atomic_write_text

    ((picks, keep, prob),) = results
    lines, rows = picks.record
    text = "".join(scored_line(lines[n], s) + "\n" for n, s, k in zip(rows, score_text(prob), keep) if k)
    atomic_write_text(path, text)


def sniff(head: bytes) -> bool:
    """Rows of at least four numbers (or nothing at all)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    lines = [line for line in text.splitlines()[:20] if line.strip() and not line.startswith("#")]
    return bool(lines) and all(len(line.split()) >= 4 and all(_is_number(v) for v in line.split()[:4])
                               for line in lines[:-1] or lines)


register(CoordinateFormat("box", "EMAN .box: x y width height [score], lower-left corners", (".box",), True,
                          read, write, sniff))
