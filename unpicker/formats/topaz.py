"""Topaz particle tables: tab-separated, a header naming the columns
(``image_name x_coord y_coord [score]``), one row a pick, every micrograph
in one file; ``image_name`` is the micrograph's name without extension and
(x, y) the centre, in pixels of the image Topaz picked on (often downscaled:
``--coord_scale`` as Topaz's ``-x``).

Written back, the table keeps its columns and the kept rows' text; our
score goes in ``score`` and the picker's moves to an added
``picker_score`` (a table without scores gains ``score``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .picks import CoordinateError, CoordinateFormat, MicrographPicks, register, scaled, score_text

REQUIRED = ("image_name", "x_coord", "y_coord")
PICKER_SCORE = "picker_score"


def read(path: Path, options, name: str | None = None) -> list[MicrographPicks]:
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise CoordinateError(f"{path}: cannot be read as a Topaz table ({getattr(e, 'strerror', None) or e})") \
            from None
    header = lines[0].split() if lines else []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CoordinateError(f"{path}:1: a Topaz table's header names image_name x_coord y_coord [score]; "
                              f"this one lacks {', '.join(missing)}")
    ix, iy, iname = header.index("x_coord"), header.index("y_coord"), header.index("image_name")
    iscore = header.index("score") if "score" in header else None
    by_mic: dict[str, list[int]] = {}
    values: dict[int, tuple[float, float, float]] = {}
    for n, line in enumerate(lines[1:], start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(header):
            raise CoordinateError(f"{path}:{n + 1}: expected {len(header)} values ({' '.join(header)}), "
                                  f"found {len(fields)}")
        try:
            x, y = float(fields[ix]), float(fields[iy])
            s = float(fields[iscore]) if iscore is not None else np.nan
        except ValueError:
            raise CoordinateError(f"{path}:{n + 1}: not a number in {line.strip()[:60]!r}") from None
        if not (np.isfinite(x) and np.isfinite(y)):
            raise CoordinateError(f"{path}:{n + 1}: not a finite coordinate in {line.strip()[:60]!r}")
        by_mic.setdefault(fields[iname], []).append(n)
        values[n] = (x, y, s)
    out = []
    for mic, rows in by_mic.items():
        a = np.array([values[n] for n in rows], dtype=np.float64).reshape(-1, 3)
        out.append(MicrographPicks(mic, scaled(a[:, :2], options), str(path), "topaz", rows, a[:, 2],
                                   record=(lines, header, rows)))
    return out


def write(path: Path, results, options, role: str, details: str) -> None:
    from ..files import atomic_write_text, write_sidecar

    header = list(results[0][0].record[1]) if results else list(REQUIRED) + ["score"]
    had_score = "score" in header
    out_header = header + ([PICKER_SCORE] if had_score and PICKER_SCORE not in header else [])
    if not had_score:
        out_header.append("score")
    i_score = out_header.index("score")
    rows = []
    for picks, keep, prob in results:
        lines, _, row_lines = picks.record
        for n, s, k in zip(row_lines, score_text(prob), keep):
            if not k:
                continue
            fields = lines[n].split()
            if had_score and PICKER_SCORE not in header:
                fields.append(fields[i_score])
            if had_score:
                fields[i_score] = s
            else:
                fields.append(s)
            rows.append("\t".join(fields))
    atomic_write_text(path, "\t".join(out_header) + "\n" + "".join(r + "\n" for r in rows))
    write_sidecar(path, role, details)


def sniff(head: bytes) -> bool:
    first = head.decode("utf-8", errors="replace").splitlines()[:1]
    return bool(first) and all(c in first[0].split() for c in REQUIRED)


register(CoordinateFormat("topaz", "Topaz table: image_name x_coord y_coord [score], centres, every micrograph",
                          (".txt", ".tsv"), False, read, write, sniff))
