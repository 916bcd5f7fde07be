"""File-system helpers: atomic writes and finding micrographs by file suffix.

Every output is written whole or not at all: to a temporary file beside it,
then renamed over it. A write that fails (a read-only folder, a full disk, a
path that is a folder) raises :class:`OutputError` naming the path and the
reason, and leaves no temporary file behind, also when interrupted."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (a
    change would be seen by files other threads create meanwhile)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class OutputError(Exception):
    """An output that cannot be written; the message names the path and why."""


def _output_error(path: Path, e: OSError) -> OutputError:
    why = e.strerror or str(e)
    if isinstance(e, IsADirectoryError) or path.is_dir():
        why = "it is a folder"
    return OutputError(f"{path}: cannot be written: {why}")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole
    new one, never a partial file (temporary file in the same folder, then rename).
    The file gets the permissions a newly created one would (the umask's), not
    the temporary file's owner-only ones, so that the user's group can read
    the outputs as it reads their other files."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _output_error(path, e) from None
    try:
        if hasattr(os, "fchmod"):   # POSIX
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        raise _output_error(path, e) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """For writers that need a file name (matplotlib, Keras): yields a
    temporary path beside ``path`` (same endings, so writers that choose the
    format by name choose the same), moved into place when the ``with`` body
    completes and removed when it fails or is interrupted."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{''.join(path.suffixes[-2:])}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise _output_error(path, e) from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:       # exists, but another user's
        return True
    return True


def clear_stale_temporaries(folders) -> list[Path]:
    """Remove the temporary files that writes of a killed run left in
    ``folders`` (``.NAME.PID.*tmp*``, from a process no longer running), so
    that a kill -9 during a save leaves nothing behind for long. Returns
    what was removed."""
    removed = []
    for folder in {Path(f) for f in folders}:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            parts = entry.name.split(".")
            if not entry.name.startswith(".") or "tmp" not in parts[2:]:
                continue
            i = len(parts) - 1 - parts[::-1].index("tmp")     # .NAME.PID.tmp... or .NAME.PID.RANDOM.tmp
            pid = next((int(p) for p in parts[max(i - 2, 2):i] if p.isdigit()), None)
            if pid is not None and pid != os.getpid() and not _running(pid):
                try:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
                except OSError:
                    pass
    return removed


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


def split_suffix(arg: str, folder: Path) -> tuple[Path, str]:
    """A suffix argument that may name a folder: ``CBOX/.cbox`` is the
    suffix ``.cbox`` in the folder ``CBOX``; a plain ``_autopick.star`` is
    in ``folder``."""
    path = Path(arg)
    if len(path.parts) > 1 and path.parent.is_dir():
        return path.parent, path.name
    return folder, arg


# A file emUnpicker wrote where the format has no room for a comment (a box
# file, a Topaz table, a cryoSPARC .cs) is marked by a hidden sidecar beside
# it, ``.NAME.emunpicker``, holding its role, what it was written with, and
# the file's size and modification time: edited or replaced, it is no
# longer taken for emUnpicker's.
SIDECAR = ".emunpicker"


def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}{SIDECAR}")


def write_sidecar(path: str | Path, role: str, details: str = "") -> None:
    """Mark ``path`` (just written) as emUnpicker's, in ``role``."""
    import json

    from . import __version__

    path = Path(path)
    st = path.stat()
    atomic_write_text(_sidecar(path), json.dumps({"written_by": f"emUnpicker {__version__}", "role": role,
                                                  "details": details, "size": st.st_size,
                                                  "mtime_ns": st.st_mtime_ns}) + "\n")


def read_sidecar(path: str | Path) -> tuple[str, str] | None:
    """The (role, details) :func:`write_sidecar` recorded for ``path``, if the
    file is still as it was written; else None."""
    import json

    path = Path(path)
    try:
        doc = json.loads(_sidecar(path).read_text())
        st = path.stat()
        if doc["size"] == st.st_size and doc["mtime_ns"] == st.st_mtime_ns:
            return str(doc["role"]), str(doc.get("details", ""))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None
