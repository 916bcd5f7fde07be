"""Loading micrographs from MRC files (through the mrcfile library).

Returns the image as a float32 array indexed ``image[y, x]`` (row = y,
column = x), the same convention as ``_rlnCoordinateX/Y``. Supports modes 0
(int8/uint8), 1 (int16), 2 (float32), 6 (uint16) and 12 (float16), extended
headers (FEI1/FEI2 and others, skipped by mrcfile), either byte order, and a
single image or a stack of one image. Headers are read as leniently as
mrcfile's permissive mode and RELION do (a missing ``MAP`` id, say); what
cannot be a micrograph is refused by name: complex values (modes 3 and 4),
stacks of several images, volumes, and NaN or infinite pixels (unless they
are to be filled).
"""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import mrcfile
import numpy as np


class MicrographError(ValueError):
    """A micrograph that cannot be read; the message names the file."""


@contextlib.contextmanager
def _open_mrc(path: Path, mmap: bool = False):
    """An MRC file opened for reading (memory-mapped, or header only); any
    problem, in opening it or in the ``with`` body, becomes a
    MicrographError naming the file."""
    if not path.exists():
        raise MicrographError(f"{path}: micrograph not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if mmap:
                opened = mrcfile.mmap(path, mode="r", permissive=True)
            else:
                opened = mrcfile.open(path, mode="r", header_only=True, permissive=True)
            with opened as mrc:
                yield mrc
    except MicrographError:
        raise
    except Exception as e:  # mrcfile raises ValueError, OSError, ... for bad files
        raise MicrographError(f"{path}: not a readable MRC micrograph ({e})") from None


def read_micrograph(path: str | Path, fill_nonfinite: bool = False) -> tuple[np.ndarray, float | None]:
    """Read one micrograph.

    Returns:
        ``(image, apix)``: the image as a new C-contiguous float32 (ny, nx)
        array, and the pixel size in Å from the header's voxel size (None when
        the header says 0).
    Raises :class:`MicrographError` naming the file for anything that is not
    one 2D image of finite real numbers; with ``fill_nonfinite``, NaN and
    infinite pixels are replaced by the mean of the others instead.
    """
    path = Path(path)
    # Memory-mapped: the file is read once, straight into the float32 copy.
    with _open_mrc(path, mmap=True) as mrc:
        data = mrc.data
        if data is None:
            raise ValueError("no image data")
        if data.dtype.kind == "c" or data.dtype.fields:
            raise ValueError("complex-valued data (MRC mode 3 or 4), not a micrograph")
        if data.ndim == 3:
            if data.shape[0] != 1:
                raise ValueError(f"a stack of {data.shape[0]} images, expected one micrograph")
            data = data[0]
        if data.ndim != 2:
            raise ValueError(f"{data.ndim}-dimensional data, expected a 2D image")
        image = np.array(data, dtype=np.float32, order="C")
        apix = float(mrc.voxel_size.x)
    bad = ~np.isfinite(image)
    if bad.any():
        y, x = np.unravel_index(int(np.argmax(bad)), image.shape)
        if not fill_nonfinite:
            raise MicrographError(f"{path}: {int(bad.sum())} pixels are NaN or infinite (the first at x {x}, y {y}); "
                                  "--fill_nonfinite replaces them by the mean of the others")
        image[bad] = float(image[~bad].mean()) if (~bad).any() else 0.0
    return image, (apix if apix > 0 and np.isfinite(apix) else None)


def blank_warning(image: np.ndarray, path: str | Path) -> str | None:
    """A warning when every pixel of a micrograph has the same value: its
    picks cannot be told apart (every one gets the same score)."""
    if image.size and float(image.min()) == float(image.max()):
        return f"{path}: every pixel is {float(image.flat[0]):g} (a blank micrograph): its picks all score the same"
    return None


def read_pixel_size(path: str | Path) -> float | None:
    """The header's pixel size in Å (None when it says 0), reading only the header."""
    with _open_mrc(Path(path)) as mrc:
        apix = float(mrc.voxel_size.x)
    return apix if apix > 0 and np.isfinite(apix) else None


def read_shape(path: str | Path) -> tuple[int, int]:
    """A micrograph's (rows, columns) from its header alone."""
    with _open_mrc(Path(path)) as mrc:
        return int(mrc.header.ny), int(mrc.header.nx)


def resolve_apix(
    cli_apix: float | None,
    header_apix: float | None,
    star_apix: float | None = None,
    needs_angstrom: bool = False,
    default: float = 1.0,
) -> tuple[float, str, str | None]:
    """Choose the pixel size: ``--apix``, else the MRC header, else the
    micrograph STAR file's ``_rlnMicrographPixelSize``, else ``default``.

    Returns ``(apix, where it came from, warning or None)``. A header value of
    1.0 is suspicious (many programs write 1 when they do not know), so it is
    warned about when a filter in Å depends on it.
    """
    if cli_apix is not None:
        if cli_apix <= 0:
            raise ValueError(f"--apix must be positive, got {cli_apix}")
        return cli_apix, "--apix", None
    warning = None
    if header_apix is not None and header_apix != 1.0:
        return header_apix, "MRC header", None
    if star_apix is not None and star_apix > 0:
        return star_apix, "_rlnMicrographPixelSize", None
    if needs_angstrom:
        said = "0" if header_apix is None else "1.0"
        warning = (f"the MRC header gives a pixel size of {said} Å; the filters in Å assume "
                   f"{header_apix or default} Å/px: give --apix if that is wrong")
    if header_apix is not None:
        return header_apix, "MRC header", warning
    return default, "default", warning
