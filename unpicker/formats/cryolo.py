"""crYOLO's ``.cbox`` files: a STAR file whose ``data_cryolo`` table has
``_CoordinateX _CoordinateY _Width _Height _Confidence ...``, (x, y) the
box's lower-left corner, so the centre is ``(x + width/2, y + height/2)``;
missing values are ``<NA>``. Older crYOLO wrote ``.cbox`` as text
(``x y width height confidence ...``), read as an EMAN box file.

Written back, a kept row carries emUnpicker's score in ``_Confidence`` and
the picker's confidence in an added ``_unpickerPickerConfidence``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import eman
from .picks import CoordinateError, CoordinateFormat, MicrographPicks, register, scaled, score_text
from .star import StarError, edit_loop, read_star, with_marker

NA = "<NA>"
PICKER_CONFIDENCE = "unpickerPickerConfidence"


def _numbers(block, name: str, path: Path, required: bool) -> np.ndarray:
    """A column as floats, ``<NA>`` as NaN; NaN in a required column is an error naming the row."""
    if not block.has_columns(name):
        if required:
            raise CoordinateError(f"{path}: the data_cryolo table has no _{name}")
        return np.full(len(block), np.nan)
    i = block.column_index(name)
    out = np.empty(len(block))
    for k, row in enumerate(block.rows):
        text = row[i]
        try:
            out[k] = np.nan if text == NA else float(text)
        except ValueError:
            raise CoordinateError(f"{path}:{block.row_lines[k] + 1}: _{name} is not a number: {text!r}") from None
        if required and not np.isfinite(out[k]):
            raise CoordinateError(f"{path}:{block.row_lines[k] + 1}: _{name} is not a finite number: {text!r}")
    return out


def read(path: Path, options, name: str | None = None) -> list[MicrographPicks]:
    with open(path, "rb") as f:
        head = f.read(4096)
    if not _is_star(head):
        return eman.read(path, options, name, fmt="cbox")
    star = read_star(path)
    try:
        block = star.find_loop("CoordinateX", "CoordinateY")
    except StarError:
        if not any(b.is_loop for b in star.blocks):        # crYOLO writes an empty file, or only its header
            return [MicrographPicks(name or path.stem, np.zeros((0, 2)), str(path), "cbox", [], np.zeros(0),
                                    record=None)]
        raise CoordinateError(f"{path}: no data_cryolo table with _CoordinateX and _CoordinateY") from None
    z = set(block.column("CoordinateZ")) - {NA} if block.has_columns("CoordinateZ") else set()
    if len(z) > 1:      # one slice (a micrograph saved as a stack of one) is 2D
        raise CoordinateError(f"{path}: these are 3D picks (_CoordinateZ takes {len(z)} values), from a tomogram; "
                              "emUnpicker unpicks micrographs")
    x, y = (_numbers(block, c, path, True) for c in ("CoordinateX", "CoordinateY"))
    w, h = (_numbers(block, c, path, True) for c in ("Width", "Height")) if len(block) else (x, y)
    xy = np.stack([x + w / 2, y + h / 2], axis=1) if len(block) else np.zeros((0, 2))
    return [MicrographPicks(name or path.stem, scaled(xy, options), str(path), "cbox", list(block.row_lines),
                            _numbers(block, "Confidence", path, False), record=(star, block))]


def write(path: Path, results, options, role: str, details: str) -> None:
    from ..files import atomic_write_text

    ((picks, keep, prob),) = results
    if picks.record is None:                      # an empty file
        atomic_write_text(path, "")
        return
    if not isinstance(picks.record, tuple) or not hasattr(picks.record[0], "lines"):
        return eman.write(path, results, options, role, details)
    star, block = picks.record
    columns = {}
    if block.has_columns("Confidence") and not block.has_columns(PICKER_CONFIDENCE):
        i = block.column_index("Confidence")
        columns[PICKER_CONFIDENCE] = [row[i] for row, k in zip(block.rows, keep) if k]
    columns["Confidence"] = [s for s, k in zip(score_text(prob), keep) if k]
    atomic_write_text(path, with_marker(edit_loop(star, block, keep, columns), role, details))


def _is_star(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace")
    return any(line.strip().startswith("data_") for line in text.splitlines())


def sniff(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace")
    return _is_star(head) and ("_cbox_format_version" in text or "_CoordinateX" in text)


register(CoordinateFormat("cbox", "crYOLO .cbox: STAR data_cryolo table or the older text, lower-left corners",
                          (".cbox",), True, read, write, sniff, marks_itself=True))
