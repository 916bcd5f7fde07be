"""File-system helpers: atomic writes and finding micrographs by file suffix."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole
    new one, never a partial file (temporary file in the same folder, then rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_output(path: str | Path) -> Path:
    """A temporary path beside ``path`` for writers that need a file name
    (matplotlib, Keras); move it into place with ``os.replace`` when complete."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{''.join(path.suffixes[-2:])}")


def find_by_suffix(directory: str | Path, suffix: str) -> list[tuple[str, Path]]:
    """Files in ``directory`` whose names end with ``suffix``, as
    ``(micrograph root, path)`` sorted by name: ``mic001_autopick.star`` with
    suffix ``_autopick.star`` gives root ``mic001``."""
    directory = Path(directory)
    found = []
    for p in sorted(directory.iterdir()):
        if p.name.endswith(suffix) and len(p.name) > len(suffix) and p.is_file():
            found.append((p.name[: -len(suffix)], p))
    return found
