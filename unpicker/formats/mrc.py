"""Loading micrographs from MRC files (through the mrcfile library).

Returns the image as a float32 array indexed ``image[y, x]`` (row = y,
column = x), the same convention as ``_rlnCoordinateX/Y``. Supports modes 0
(int8/uint8), 1 (int16), 2 (float32), 6 (uint16) and 12 (float16), extended
headers (FEI1/FEI2 and others, skipped by mrcfile), either byte order, and a
single image or a stack of one image.
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
                opened = mrcfile.mmap(path, mode="r", permissive=False)
            else:
                opened = mrcfile.open(path, mode="r", header_only=True, permissive=False)
            with opened as mrc:
                yield mrc
    except MicrographError:
        raise
    except Exception as e:  # mrcfile raises ValueError, OSError, ... for bad files
        raise MicrographError(f"{path}: not a readable MRC micrograph ({e})") from None


def read_micrograph(path: str | Path) -> tuple[np.ndarray, float | None]:
    """Read one micrograph.

    Returns:
        ``(image, apix)``: the image as a new C-contiguous float32 (ny, nx)
        array, and the pixel size in Å from the header's voxel size (None when
        the header says 0).
    """
    # Memory-mapped: the file is read once, straight into the float32 copy.
    with _open_mrc(Path(path), mmap=True) as mrc:
        data = mrc.data
        if data is None:
            raise ValueError("no image data")
        if data.ndim == 3:
            if data.shape[0] != 1:
                raise ValueError(f"a stack of {data.shape[0]} images, expected one micrograph")
            data = data[0]
        if data.ndim != 2:
            raise ValueError(f"{data.ndim}-dimensional data, expected a 2D image")
        image = np.array(data, dtype=np.float32, order="C")
        apix = float(mrc.voxel_size.x)
    return image, (apix if apix > 0 else None)


def read_pixel_size(path: str | Path) -> float | None:
    """The header's pixel size in Å (None when it says 0), reading only the header."""
    with _open_mrc(Path(path)) as mrc:
        apix = float(mrc.voxel_size.x)
    return apix if apix > 0 else None


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
