"""Picks of one micrograph, whichever program wrote them, and the coordinate
formats: recognised, read, and written back in their own format.

Every reader gives :class:`MicrographPicks`: box *centres* in pixels of the
micrograph, x the column and y the row of the MRC data array
(``image[y, x]``), as ``_rlnCoordinateX/Y`` are. Formats that store a box's
lower-left corner (crYOLO ``.cbox``, EMAN ``.box``) are converted by adding
half the box; coordinates made on a rescaled image are multiplied by
``coord_scale`` (as Topaz's ``-x``); cryoSPARC's fractions by the
micrograph's shape. Writers keep each kept row as the file had it (its text,
or its record) and add emUnpicker's score; they never round a coordinate.

==========  ===========================================  ========================
format      file                                         one file holds
==========  ===========================================  ========================
relion      RELION STAR (``_rlnCoordinateX/Y``)          one micrograph
cbox        crYOLO ``.cbox`` (STAR, or the old 5-column) one micrograph
box         EMAN ``.box``                                one micrograph
eman2       EMAN2 ``info/<mic>_info.json``               one micrograph
topaz       Topaz particle table (tab-separated)         many micrographs
cryosparc   cryoSPARC ``.cs`` (cryosparc-tools)          many micrographs
==========  ===========================================  ========================
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .star import StarError


class CoordinateError(StarError):
    """A coordinate file that cannot be read as the format it is taken for;
    the message names the file (and line) and what was expected."""


@dataclass(frozen=True)
class CoordinateOptions:
    """How coordinate files are read.

    Attributes:
        format: the format to read (``--coord_format``); None: recognised
            from each file's extension and content.
        coord_scale: file coordinates times this are micrograph pixels
            (``--coord_scale``; Topaz's ``-x``, or picks made at another binning).
        flip_y: cryoSPARC: y counted from the other edge (``--flip_y``).
        cs_project_dir: cryoSPARC: the project folder that its micrograph
            paths are relative to (``--cs_project_dir``).
    """

    format: str | None = None
    coord_scale: float = 1.0
    flip_y: bool = False
    cs_project_dir: Path | None = None


@dataclass
class MicrographPicks:
    """The picks of one micrograph.

    Attributes:
        micrograph: the micrograph's name, without folder and ``.mrc``.
        xy: (n, 2) float64 box centres in micrograph pixels (x, y).
        source: the file they came from, for messages.
        format: the format's name (see the module docstring).
        row_lines: each pick's 0-based line in ``source`` (text formats).
        fom: (n,) the picker's figure of merit (NaN where it gave none).
        micrograph_path: the micrograph as the file names it, if it does.
        uid: (n,) cryoSPARC's unique ids, if any.
        record: what the format's writer needs to write the picks back.
    """

    micrograph: str
    xy: np.ndarray
    source: str
    format: str
    row_lines: list[int] | None = None
    fom: np.ndarray | None = None
    micrograph_path: str | None = None
    uid: np.ndarray | None = None
    record: object = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.xy)


# (picks, kept, probabilities) of one micrograph, for a writer
Result = tuple[MicrographPicks, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class CoordinateFormat:
    """One format: how to recognise, read and write it.

    ``read(path, options, name)`` gives the picks of every micrograph in the
    file (``name``: the micrograph of a one-micrograph file);
    ``write(path, results, options, marker)`` writes the given micrographs'
    kept picks (a one-micrograph format gets one), ending with ``marker``
    (role, details) where the format has room for it.
    """

    name: str
    description: str
    extensions: tuple[str, ...]
    per_micrograph: bool
    read: Callable[..., list[MicrographPicks]]
    write: Callable[..., None]
    sniff: Callable[[bytes], bool]
    marks_itself: bool = False          # the written file carries emUnpicker's marker


_FORMATS: dict[str, CoordinateFormat] = {}


def register(fmt: CoordinateFormat) -> CoordinateFormat:
    _FORMATS[fmt.name] = fmt
    return fmt


def formats() -> dict[str, CoordinateFormat]:
    """Every format, by name (importing the format modules registers them)."""
    from . import cryolo, cryosparc, eman, eman2, relion, topaz  # noqa: F401

    return _FORMATS


def format_names() -> list[str]:
    return list(formats())


def get_format(name: str) -> CoordinateFormat:
    try:
        return formats()[name]
    except KeyError:
        raise CoordinateError(f"unknown coordinate format {name!r} (one of {', '.join(formats())})") from None


def detect_format(path: str | Path, forced: str | None = None) -> CoordinateFormat:
    """The format of ``path``: ``forced`` if given, else recognised from its
    extension and first bytes. Raises :class:`CoordinateError` naming the
    file and the formats expected."""
    if forced:
        return get_format(forced)
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError as e:
        raise CoordinateError(f"{path}: cannot be read: {e.strerror}") from None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    # a known extension decides (its reader names what is wrong with the file); content decides otherwise
    for fmt in formats().values():
        if path.name.lower().endswith(fmt.extensions):
            return fmt
    for fmt in formats().values():
        if fmt.sniff(head):
            return fmt
    expected = "; ".join(f"{f.name} ({f.description})" for f in formats().values())
    raise CoordinateError(f"{path}: not a coordinate file of a known format (expected one of: {expected}); "
                          "--coord_format names the format")


def read_coordinates(path: str | Path, options: CoordinateOptions = CoordinateOptions(),
                     name: str | None = None) -> list[MicrographPicks]:
    """The picks in ``path``, per micrograph (see :func:`detect_format`)."""
    fmt = detect_format(path, options.format)
    return fmt.read(Path(path), options, name)


def scaled(xy: np.ndarray, options: CoordinateOptions) -> np.ndarray:
    return xy * options.coord_scale if options.coord_scale != 1.0 else xy


def unscaled(xy: np.ndarray, options: CoordinateOptions) -> np.ndarray:
    return xy / options.coord_scale if options.coord_scale != 1.0 else xy


def score_text(prob: np.ndarray) -> list[str]:
    """Scores as written in every output: 4 decimals."""
    return [f"{p:.4f}" for p in prob]


def written_scores(prob: np.ndarray) -> np.ndarray:
    """The scores as every output writes them (:func:`score_text`), as
    numbers: a pick is kept when this is at least the threshold, so that
    filtering an output's score column at a threshold keeps what unpicking
    at that threshold keeps."""
    return np.array([float(s) for s in score_text(prob)], dtype=np.float64)
