"""RELION's files: STAR coordinate files, RELION 4/5 lists of them, and the
CTF table of ``micrographs_ctf.star``.

Coordinates are in pixels of the micrograph: x is the column and y the row of
the MRC data array (``image[y, x]``), as ``_rlnCoordinateX/_rlnCoordinateY``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..images.ctf import CtfParams
from .star import StarBlock, StarError, StarFile, format_loop_block, read_star

X_COLUMN = "rlnCoordinateX"
Y_COLUMN = "rlnCoordinateY"


@dataclass
class Picks:
    """The picks of one coordinate file.

    Attributes:
        star: the whole parsed file (for writing outputs that keep its text).
        block: the table holding the coordinates.
        xy: (n, 2) float64 array of (x, y) centres in pixels.
    """

    star: StarFile
    block: StarBlock
    xy: np.ndarray

    def __len__(self) -> int:
        return len(self.xy)


def read_picks(path: str | Path, allow_extra_fields: bool = False) -> Picks:
    """Read a STAR coordinate file (RELION 3.0 single block or 3.1+ multi-block).

    Raises :class:`StarError` naming the file (and line) when the file cannot
    be read, has no ``_rlnCoordinateX/Y`` table or holds a non-numeric coordinate.
    """
    star = read_star(path, allow_extra_fields=allow_extra_fields)
    try:
        block = star.find_loop(X_COLUMN, Y_COLUMN)
    except StarError:
        raise StarError(f"{path}: no coordinate columns (_{X_COLUMN}, _{Y_COLUMN})") from None
    xy = np.stack([block.floats(X_COLUMN), block.floats(Y_COLUMN)], axis=1) if len(block) else np.zeros((0, 2))
    return Picks(star, block, xy)


# A RELION 4/5 list of coordinate files (AutoPick/job006/autopick.star,
# ManualPick/job010/manualpick.star): one row per micrograph.
LIST_BLOCK = "coordinate_files"
LIST_MICROGRAPH = "rlnMicrographName"
LIST_COORDINATES = "rlnMicrographCoordinates"


@dataclass
class CoordinateList:
    """A RELION 4/5 list of coordinate files: a table (``data_coordinate_files``)
    of ``_rlnMicrographName`` and ``_rlnMicrographCoordinates``, one row per
    micrograph, both paths relative to the RELION project directory.

    Attributes:
        block: the table (for writing a list with other coordinate files).
        micrographs: each row's micrograph path, as written.
        coordinates: each row's coordinate file path, as written.
    """

    block: StarBlock
    micrographs: list[str]
    coordinates: list[str]

    def __len__(self) -> int:
        return len(self.micrographs)

    def micrograph_paths(self, image_dir: str | Path | None = None) -> list[Path]:
        """Each row's micrograph: the path as listed (relative to the project
        directory), or, given ``image_dir``, the file of that name in it."""
        if image_dir is None:
            return [Path(m) for m in self.micrographs]
        return [Path(image_dir) / Path(m).name for m in self.micrographs]


def list_output_path(list_path: Path, input_suffix: str, output_suffix: str) -> Path:
    """Where a list of derived coordinate files goes: beside the input list,
    named by the output suffix's part after the input's: ``autopick.star``
    with ``_autopick.star`` -> ``_autopick_unpick.star`` gives
    ``autopick_unpick.star``; other suffixes are appended
    (``autopick_clean.star`` for ``_clean.star``)."""
    stem = input_suffix[:-5] if input_suffix.endswith(".star") else input_suffix
    added = output_suffix[len(stem):] if output_suffix.startswith(stem) else output_suffix
    return list_path.with_name(list_path.stem + added)


def read_coordinate_list(path: str | Path) -> CoordinateList | None:
    """The coordinate list in a STAR file, or None when the file holds no
    table with both columns (it is then, say, a coordinate file itself)."""
    star = read_star(path)
    try:
        block = star.find_loop(LIST_MICROGRAPH, LIST_COORDINATES)
    except StarError:
        return None
    return CoordinateList(block, block.column(LIST_MICROGRAPH), block.column(LIST_COORDINATES))


def coordinate_list_given(arg: str | None) -> CoordinateList | None:
    """The coordinate list in the file a command-line argument names, or None
    when it names no existing ``.star`` file (a suffix, say) or a file without
    one. Raises :class:`StarError` for a STAR file that cannot be read."""
    if not arg or not arg.endswith(".star") or not Path(arg).is_file():
        return None
    return read_coordinate_list(arg)


def coordinate_list_text(listed: CoordinateList, rows: list[int], coordinates: list[str]) -> str:
    """A coordinate list of the given ``rows`` of ``listed``, each pointing at
    the matching entry of ``coordinates``; every other column is kept as it was.
    Written as RELION 4/5 write theirs (``# version 30001``, ``data_coordinate_files``)."""
    block = listed.block
    k = block.column_index(LIST_COORDINATES)
    out_rows = [block.rows[r][:k] + [c] + block.rows[r][k + 1:] for r, c in zip(rows, coordinates)]
    return format_loop_block(block.name or LIST_BLOCK, block.columns, out_rows, "version 30001")


def new_coordinate_list_text(micrographs: list[str], coordinates: list[str]) -> str:
    """A RELION 4/5 coordinate list of (micrograph, coordinate file) pairs."""
    return format_loop_block(LIST_BLOCK, [LIST_MICROGRAPH, LIST_COORDINATES],
                             [[m, c] for m, c in zip(micrographs, coordinates)], "version 30001")


def read_pixel_size(path: str | Path) -> float | None:
    """A micrographs table's ``_rlnMicrographPixelSize`` (its optics group's
    in RELION 3.1+), if it gives one."""
    for block in read_star(path).blocks:
        if block.has_columns("rlnMicrographPixelSize") and len(block):
            return float(block.floats("rlnMicrographPixelSize")[0])
    return None


def read_micrograph_paths(path: str | Path) -> dict[str, str]:
    """A RELION micrographs table (``micrographs_ctf.star``, a movie or
    micrograph list): each micrograph's name (without folder and ``.mrc``)
    and its path, as listed (relative to the project directory)."""
    star = read_star(path)
    block = star.find_loop(LIST_MICROGRAPH)
    return {_micrograph_key(m): m for m in block.column(LIST_MICROGRAPH)}


def _micrograph_key(name: str) -> str:
    """``MotionCorr/job002/Movies/mic001.mrc`` -> ``mic001``."""
    stem = Path(name).name
    return stem[:-4] if stem.endswith(".mrc") else stem


def read_ctf_star(path: str | Path) -> tuple[dict[str, CtfParams], float | None]:
    """Per-micrograph CTF parameters from a RELION ``micrographs_ctf.star``.

    Reads RELION 3.0 files (one table with every column) and 3.1+ files
    (``data_optics`` with voltage, Cs and amplitude contrast per optics group,
    ``data_micrographs`` with the defocus). Keys are micrograph names without
    folder and ``.mrc``. Also returns ``_rlnMicrographPixelSize`` when present.
    """
    star = read_star(path)
    mics = star.find_loop("rlnMicrographName", "rlnDefocusU", "rlnDefocusV")
    optics_by_group: dict[str, dict[str, str]] = {}
    apix = None
    optics = next((b for b in reversed(star.blocks) if b.name == "optics" and b.is_loop), None)
    for row, line in zip(optics.rows if optics else [], optics.row_lines if optics else []):
        values = dict(zip(optics.columns, row))
        optics_by_group[values.get("rlnOpticsGroup", "1")] = values
        if "rlnMicrographPixelSize" in values:
            apix = _number(path, line, "rlnMicrographPixelSize", values["rlnMicrographPixelSize"])
    out = {}
    for row, line in zip(mics.rows, mics.row_lines):
        values = dict(zip(mics.columns, row))
        merged = {**optics_by_group.get(values.get("rlnOpticsGroup", ""), {}), **values}

        def get(name: str, default: float | None = None) -> float:
            if name in merged:
                return _number(path, line, name, merged[name])
            if default is None:
                raise StarError(f"{path}:{line + 1}: no _{name} for {values['rlnMicrographName']}")
            return default

        out[_micrograph_key(values["rlnMicrographName"])] = CtfParams(
            get("rlnDefocusU"), get("rlnDefocusV"), get("rlnDefocusAngle", 0.0), get("rlnVoltage"),
            get("rlnSphericalAberration"), get("rlnAmplitudeContrast"), get("rlnPhaseShift", 0.0))
        if apix is None and "rlnMicrographPixelSize" in merged:
            apix = get("rlnMicrographPixelSize")
    return out, apix


def _number(path: str | Path, line: int, name: str, text: str) -> float:
    """``text`` as a finite float, or a StarError naming file, line and column."""
    try:
        value = float(text)
    except ValueError:
        raise StarError(f"{path}:{line + 1}: _{name} is not a number: {text!r}") from None
    if not np.isfinite(value):
        raise StarError(f"{path}:{line + 1}: _{name} is not a finite number: {text!r}")
    return value


# ---------------------------------------------------------------- as a coordinate format

FOM_COLUMN = "rlnAutopickFigureOfMerit"
SCORE_COLUMN = "unpickerScore"
PICKER_FOM_COLUMN = "unpickerPickerFigureOfMerit"


def _read_as_micrograph_picks(path: Path, options, name: str | None = None):
    from .picks import MicrographPicks, scaled

    picks = read_picks(path)
    block = picks.block
    fom = block.floats(FOM_COLUMN, finite=False) if block.has_columns(FOM_COLUMN) and len(block) else None
    return [MicrographPicks(name or Path(path).stem, scaled(picks.xy, options), str(path), "relion",
                            list(block.row_lines), fom, record=picks)]


def scored_columns(block: StarBlock, keep: np.ndarray, prob: np.ndarray) -> dict[str, list[str]]:
    """The columns an unpicked RELION table gets, for its kept rows: the
    particle probability as ``_rlnAutopickFigureOfMerit`` (what Extract's
    ``--minimum_pick_fom`` and ManualPick's colouring read) and as
    ``_unpickerScore``; the picker's own figure of merit, where the table
    had one, moves to ``_unpickerPickerFigureOfMerit`` (kept as it was when
    the table already has that column: an unpicked file unpicked again)."""
    from .picks import score_text

    scores = [s for s, k in zip(score_text(prob), keep) if k]
    columns = {}
    if block.has_columns(FOM_COLUMN) and not block.has_columns(PICKER_FOM_COLUMN):
        i = block.column_index(FOM_COLUMN)
        columns[PICKER_FOM_COLUMN] = [row[i] for row, k in zip(block.rows, keep) if k]
    columns[FOM_COLUMN] = scores
    columns[SCORE_COLUMN] = scores
    return columns


def _write(path: Path, results, options, role: str, details: str) -> None:
    from ..files import atomic_write_text
    from .star import edit_loop, with_marker

    ((picks, keep, prob),) = results
    record: Picks = picks.record
    atomic_write_text(path, with_marker(
        edit_loop(record.star, record.block, keep, scored_columns(record.block, keep, prob)), role, details))


def _sniff(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace")
    return "data_" in text and "_rlnCoordinateX" in text


def _register():
    from .picks import CoordinateFormat, register

    register(CoordinateFormat("relion", "RELION STAR coordinates, _rlnCoordinateX/Y", (".star",), True,
                              _read_as_micrograph_picks, _write, _sniff, marks_itself=True))


_register()
