"""Before a command writes anything, every path it will write is checked.

A run's outputs are all known before its first write; :func:`check_outputs`
refuses the run (:class:`OutputConflict`, exit status 2) when

1. an output is one of the run's inputs (a micrograph, coordinate file,
   cleaned copy, training file, list, CTF table or model): never replaced;
2. two outputs are the same file;
3. an output exists and emUnpicker did not write it in the same role: a
   file of any kind a run reads (a micrograph, coordinate file or list,
   model, training file) is never replaced, whichever run it belongs to;
   another file of the output's kind (a STAR file without picks, a PNG)
   only with ``--overwrite``;
4. an output is a folder.

Files are compared as the file system sees them (the same device and inode
for existing files, so links and ``./`` spellings do not hide a clash).
emUnpicker's own outputs are recognised by what they hold: the marker line
of its STAR files (:func:`unpicker.formats.star.with_marker`), the
``Software`` text of its PNG images, the format line of its model files.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .files import read_sidecar
from .formats.star import read_marker

# Roles of the files emUnpicker writes; a STAR output of one role never replaces another's.
UNPICKED = "unpicked picks"
REJECTED = "removed picks"
TRAINING = "training file"
UNPICKED_LIST = "list of unpicked picks"
TRAINING_LIST = "list of training files"
MODEL = "model"
WEIGHTS = "weights"
TRAINING_LOG = "training log"
PLOT = "plot"
REPORT = "report"
SOFTWARE = "emUnpicker"

# what each role is written as
KIND_OF_ROLE = {UNPICKED: "star", REJECTED: "star", TRAINING: "star", UNPICKED_LIST: "star",
                TRAINING_LIST: "star", MODEL: "model", WEIGHTS: "hdf5", TRAINING_LOG: "csv", PLOT: "png",
                REPORT: "html"}
# columns that mark STAR files written before they carried a marker line
_LEGACY_COLUMNS = {"_unpickerScore": (UNPICKED, REJECTED), "_unpickerLabel": (TRAINING,)}
_LOG_HEADER = "step,epoch,loss,minibatch_error,validation_error,learning_rate"
# columns of STAR files that hold picks or list their files: inputs of some run
_PICK_COLUMNS = {"rlnCoordinateX", "rlnMicrographName", "rlnMicrographCoordinates", "CoordinateX"}


class OutputConflict(Exception):
    """A run that would overwrite what it must not; the message names both files."""


@dataclass(frozen=True)
class Output:
    """A file a run will write: its path, what it is (for messages), its
    role, and its kind (default: the role's, :data:`KIND_OF_ROLE`; ``other``
    for another picker's format, which is replaced only when emUnpicker wrote it)."""

    path: Path
    what: str
    role: str
    kind: str | None = None


def _identity(path: Path) -> tuple:
    """The same for two spellings (or links) of one file."""
    try:
        st = path.stat()
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", os.path.join(os.path.realpath(path.parent), path.name))


def kind_of(path: Path) -> str:
    """What an existing file is, from its first bytes: ``mrc``, ``hdf5``,
    ``png``, ``model``, ``csv`` (a training log), ``picks`` (a STAR file of
    coordinates, or a list of such files), ``star`` (another STAR file),
    ``text`` or ``other``."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return "other"
    if head.startswith(b"\x89HDF"):
        return "hdf5"
    if head.startswith(b"\x89PNG"):
        return "png"
    if len(head) >= 212 and head[208:212] == b"MAP " or path.suffix.lower() in (".mrc", ".mrcs", ".st", ".map"):
        return "mrc"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "other"
    if text.lstrip().startswith("{") and '"format": "emUnpicker model' in text:
        return "model"
    if text.startswith(_LOG_HEADER):
        return "csv"
    if text.lstrip().lower().startswith("<!doctype html"):
        return "html"
    lines = text.splitlines()
    if any(line.strip().startswith("data_") for line in lines):
        columns = {line.split()[0].lstrip("_") for line in lines if line.strip().startswith("_")}
        return "picks" if columns & _PICK_COLUMNS else "star"
    return "text"


def roles_of(path: Path, kind: str) -> tuple[str, ...]:
    """The roles an existing file of ``kind`` was written in by emUnpicker; () when it was not."""
    sidecar = read_sidecar(path)
    if sidecar:
        return (sidecar[0],)
    if kind in ("star", "picks"):
        marker = read_marker(path)
        if marker:
            return (marker[0],)
        try:
            with open(path, "rb") as f:
                head = f.read(65536).decode("utf-8", errors="replace")
        except OSError:
            return ()
        declared = {line.split()[0] for line in head.splitlines() if line.strip().startswith("_")}
        return tuple(r for column, roles in _LEGACY_COLUMNS.items() if column in declared for r in roles)
    if kind == "png":
        try:
            with open(path, "rb") as f:
                head = f.read(8192)
        except OSError:
            return ()
        return (PLOT,) if b"Software\x00" + SOFTWARE.encode() in head else ()
    if kind == "model":
        try:
            return (MODEL,) if json.loads(path.read_text()).get("format", "").startswith("emUnpicker model") else ()
        except (OSError, ValueError, AttributeError):
            return ()
    if kind == "hdf5":
        return (WEIGHTS,) if path.name.endswith(".weights.h5") else ()
    if kind == "csv":
        return (TRAINING_LOG,)
    if kind == "html":
        try:
            with open(path, "rb") as f:
                return (REPORT,) if b'<meta name="generator" content="emUnpicker">' in f.read(4096) else ()
        except OSError:
            return ()
    return ()


def check_outputs(outputs: Iterable[Output], inputs: Iterable[tuple[Path, str]], overwrite: bool = False) -> None:
    """Raise :class:`OutputConflict` when writing ``outputs`` would break a
    rule of the module docstring. ``inputs``: (path, what it is) of every
    file the run reads."""
    by_identity = {}
    for path, what in inputs:
        path = Path(path)
        if path.exists():
            by_identity.setdefault(_identity(path), (path, what))
    written: dict[tuple, Output] = {}
    for out in outputs:
        path = Path(out.path)
        ident = _identity(path)
        if ident in by_identity:
            src, what = by_identity[ident]
            raise OutputConflict(f"{path} ({out.what}) is {src} ({what}), an input of this run: "
                                 "choose another output name")
        if ident in written:
            raise OutputConflict(f"{path} would be written twice, as {written[ident].what} and as {out.what}: "
                                 "choose different output names")
        written[ident] = out
        if not path.exists() and not path.is_symlink():
            continue
        if path.is_dir():
            raise OutputConflict(f"{path} ({out.what}) is a folder")
        kind = kind_of(path)
        if out.role in roles_of(path, kind):
            continue
        mine = roles_of(path, kind)
        found = {"picks": "a coordinate file", "star": "a STAR file", "mrc": "a micrograph (MRC)",
                 "hdf5": "an HDF5 file", "png": "a PNG image", "model": "an emUnpicker model",
                 "csv": "a training log", "text": "a text file"}.get(kind, "a file")
        what = f"{path} ({out.what}) already exists and is " + (
            f"emUnpicker's {mine[0]}" if mine else f"{found} that emUnpicker did not write")
        if mine or kind != (out.kind or KIND_OF_ROLE[out.role]):
            raise OutputConflict(f"{what}: choose another output name")
        if not overwrite:
            raise OutputConflict(f"{what}: choose another output name, or give --overwrite to replace it")
