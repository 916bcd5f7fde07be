"""Particle coordinates: RELION STAR coordinate files, RELION 4/5 lists of
them, and EMAN box files.

Coordinates are in pixels of the micrograph: x is the column and y the row of
the MRC data array (``image[y, x]``), as ``_rlnCoordinateX/_rlnCoordinateY``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

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


def outside_micrograph(xy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Per pick, whether its centre lies outside an image of ``shape`` (rows,
    columns): x below 0 or at least the width, or y below 0 or at least the height."""
    return (xy < 0).any(axis=1) | (xy[:, 0] >= shape[1]) | (xy[:, 1] >= shape[0])


def outside_warning(xy: np.ndarray, shape: tuple[int, ...], source: str, micrograph: str,
                    row_lines: list[int] | None = None) -> str | None:
    """A warning naming ``source`` (the coordinate file) and ``micrograph`` when
    some picks lie outside the micrograph, with the first one's coordinates
    (and line, given each row's 0-based line index); None when all lie inside.

    Their boxes are still cut (filled with the micrograph's mean where they
    leave it), so a run goes on; picks outside usually mean coordinates made
    for other micrographs, or at another pixel size (binning)."""
    outside = outside_micrograph(xy, shape)
    if not outside.any():
        return None
    k = int(np.argmax(outside))
    where = f"line {row_lines[k] + 1}: " if row_lines is not None else ""
    return (f"{source}: {int(outside.sum())} of {len(xy)} picks lie outside {micrograph} "
            f"({shape[1]} x {shape[0]} px), the first at {where}x {xy[k, 0]:g}, y {xy[k, 1]:g}. "
            "Are these coordinates for this micrograph, at its pixel size?")


def read_box_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an EMAN ``.box`` file (``x_lowerleft y_lowerleft width height [score]``).

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
