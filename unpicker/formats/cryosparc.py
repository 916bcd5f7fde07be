"""cryoSPARC ``.cs`` particle and pick files, read and written through
cryosparc-tools (either encoding: numpy's ``.npy`` layout or cryoSPARC's
compressed one).

A row is a pick: ``uid``, ``location/micrograph_path`` (relative to the
cryoSPARC project folder), ``location/center_x_frac`` and
``location/center_y_frac`` (the centre as fractions of the micrograph's
width and height) and ``location/micrograph_shape`` (ny, nx). So x is
``center_x_frac * nx`` and y ``center_y_frac * ny`` in pixels of the
micrograph's data array; with ``--flip_y`` (micrographs whose rows another
motion correction stored the other way round) y is ``ny`` minus that.

Written back, the file holds the kept rows with every field they had, and
``unpicker/score``; cryosparc-tools loads it, and cryoSPARC imports it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .picks import CoordinateError, CoordinateFormat, MicrographPicks, register, score_text

FIELDS = ("location/micrograph_path", "location/center_x_frac", "location/center_y_frac",
          "location/micrograph_shape")
SCORE_FIELD = "unpicker/score"
FOM_FIELDS = ("pick_stats/ncc_score", "pick_stats/power", "alignments2D/class_posterior")


def _load(path: Path):
    from cryosparc.dataset import Dataset

    try:
        return Dataset.load(path)
    except Exception as e:      # cryosparc-tools raises several kinds for files that are not datasets
        raise CoordinateError(f"{path}: not a readable cryoSPARC .cs file ({type(e).__name__}: {e})") from None


def _text(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def read(path: Path, options, name: str | None = None) -> list[MicrographPicks]:
    ds = _load(path)
    missing = [f for f in FIELDS if f not in ds.fields()]
    if missing:
        raise CoordinateError(f"{path}: a cryoSPARC pick or particle file has {', '.join(FIELDS)}; this one lacks "
                              f"{', '.join(missing)}")
    mics = np.array(_text(ds["location/micrograph_path"]), dtype=object)
    shape = np.asarray(ds["location/micrograph_shape"], dtype=np.float64).reshape(-1, 2)
    x = np.asarray(ds["location/center_x_frac"], np.float64) * shape[:, 1]
    y = np.asarray(ds["location/center_y_frac"], np.float64) * shape[:, 0]
    if options.flip_y:
        y = shape[:, 0] - y
    xy = np.stack([x, y], axis=1)
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        raise CoordinateError(f"{path}: row {int(np.argmax(bad)) + 1} (uid {ds['uid'][int(np.argmax(bad))]}) has no "
                              "finite centre")
    fom_field = next((f for f in FOM_FIELDS if f in ds.fields()), None)
    fom = np.asarray(ds[fom_field], np.float64) if fom_field else np.full(len(ds), np.nan)
    uid = np.asarray(ds["uid"])
    out = []
    for mic in dict.fromkeys(mics):
        rows = np.flatnonzero(mics == mic)
        resolved = str(Path(options.cs_project_dir) / mic) if options.cs_project_dir else mic
        out.append(MicrographPicks(Path(mic).stem, xy[rows], str(path), "cryosparc", None, fom[rows],
                                   micrograph_path=resolved, uid=uid[rows], record=(ds, rows)))
    return out


def write(path: Path, results, options, role: str, details: str) -> None:
    from cryosparc.dataset import Dataset

    from ..files import atomic_output, write_sidecar

    if not results:
        return
    ds = results[0][0].record[0]
    rows = np.concatenate([picks.record[1][keep] for picks, keep, _ in results]).astype(np.int64)
    scores = np.concatenate([np.array(score_text(prob[keep]), dtype=np.float32) if keep.any() else
                             np.zeros(0, np.float32) for _, keep, prob in results])
    out = ds.take(rows) if len(rows) else Dataset.allocate(0, ds.descr())
    if SCORE_FIELD not in out.fields():
        out.add_fields([SCORE_FIELD], ["f4"])
    out[SCORE_FIELD] = scores
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            out.save(f)
    write_sidecar(path, role, details)


def sniff(head: bytes) -> bool:
    return head.startswith(b"\x93NUMPY") or head.startswith(b"\x95CSDAT")


register(CoordinateFormat("cryosparc", "cryoSPARC .cs picks or particles (location/center_x_frac ...)", (".cs",),
                          False, read, write, sniff))
