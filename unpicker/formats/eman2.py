"""EMAN2's ``info/<micrograph>_info.json``: ``"boxes": [[x, y, kind, ...], ...]``,
(x, y) box centres in pixels. Written back, the document keeps every key it
had, ``boxes`` only the kept ones, and gains ``unpicker_scores`` (one per box)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .picks import CoordinateError, CoordinateFormat, MicrographPicks, register, scaled, score_text

SUFFIX = "_info.json"


def read(path: Path, options, name: str | None = None) -> list[MicrographPicks]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CoordinateError(f"{path}: not a readable EMAN2 info file ({e})") from None
    boxes = doc.get("boxes", []) if isinstance(doc, dict) else None
    if not isinstance(boxes, list):
        raise CoordinateError(f"{path}: an EMAN2 info file has \"boxes\": [[x, y, kind], ...]")
    xy, fom = np.zeros((len(boxes), 2)), np.full(len(boxes), np.nan)
    for k, box in enumerate(boxes):
        try:
            xy[k] = float(box[0]), float(box[1])
        except (TypeError, ValueError, IndexError):
            raise CoordinateError(f"{path}: box {k + 1} is not [x, y, kind]: {box!r}") from None
        if not np.isfinite(xy[k]).all():
            raise CoordinateError(f"{path}: box {k + 1} is not at finite coordinates: {box!r}")
        if len(box) > 3 and isinstance(box[3], (int, float)):
            fom[k] = box[3]
    stem = Path(path).name
    stem = stem[:-len(SUFFIX)] if stem.endswith(SUFFIX) else Path(path).stem
    return [MicrographPicks(name or stem, scaled(xy, options), str(path), "eman2", None, fom, record=doc)]


def write(path: Path, results, options, role: str, details: str) -> None:
    from ..files import atomic_write_text, write_sidecar

    ((picks, keep, prob),) = results
    doc = dict(picks.record)
    doc["boxes"] = [b for b, k in zip(doc.get("boxes", []), keep) if k]
    doc["unpicker_scores"] = [float(s) for s, k in zip(score_text(prob), keep) if k]
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
    write_sidecar(path, role, details)


def sniff(head: bytes) -> bool:
    return head.lstrip().startswith(b"{") and b'"boxes"' in head


register(CoordinateFormat("eman2", "EMAN2 info/<micrograph>_info.json, box centres", (SUFFIX,), True, read, write,
                          sniff))
