"""What the commands share: the preprocessing options (with the original's
help texts), checked numeric options, progress bars, and how a command ends
(an error message and exit status, never a traceback)."""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..files import OutputError, clear_stale_temporaries
from ..formats.picks import CoordinateOptions, format_names
from ..formats.relion import CoordinateList
from ..guard import Output, OutputConflict, check_outputs
from ..relion_job import ABORTED, FAILURE, JobAborted, finish


class CommandError(Exception):
    """A run that cannot go on: the message is printed as ``Error: ...`` and
    the command exits with ``status`` (2: bad input, nothing written)."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class RunState:
    """What a command has done so far, for the line an interruption prints;
    ``job_dir``: the RELION job folder whose exit file a failure touches."""

    done: str = "nothing was written"
    resume: str = "run the same command again"
    job_dir: Path | None = None


def run_command(body: Callable[[RunState], int]) -> int:
    """Run a command's body and turn its failures into one line on stderr and
    an exit status: 2 for bad input or outputs that would overwrite inputs, 1
    for an output that cannot be written or a RELION abort, 130 for Ctrl-C
    (with what finished and how to resume). As a RELION job, a failure also
    touches ``RELION_JOB_EXIT_FAILURE`` (an abort ``RELION_JOB_EXIT_ABORTED``)."""
    state = RunState()

    def failed(message: str, status: int, exit_file: str = FAILURE) -> int:
        print(message, file=sys.stderr)
        if state.job_dir is not None and state.job_dir.is_dir():
            finish(state.job_dir, exit_file)
        return status

    try:
        return body(state)
    except CommandError as e:
        return failed(f"Error: {e}", e.status)
    except OutputConflict as e:
        return failed(f"Error: {e}", 2)
    except OutputError as e:
        return failed(f"Error: {e}", 1)
    except JobAborted:
        return failed(f"Aborted: {state.done}; {state.resume}.", 1, ABORTED)
    except KeyboardInterrupt:
        return failed(f"\nInterrupted: {state.done}; {state.resume}.", 130, ABORTED)
    except BaseException:
        if state.job_dir is not None and state.job_dir.is_dir():
            finish(state.job_dir, FAILURE)
        raise


def prepare_outputs(outputs: list[Output], inputs: list[tuple[Path, str]], overwrite: bool = False) -> None:
    """Before the first write: check every output against the inputs and
    each other (:func:`unpicker.guard.check_outputs`), then clear what a
    killed earlier run left half-written in the outputs' folders."""
    check_outputs(outputs, inputs, overwrite)
    clear_stale_temporaries(o.path.parent for o in outputs)


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars only on a terminal: redirected to a file (a log, RELION's
    run.err, SLURM) every redraw would stay in it."""
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


# ---------------------------------------------------------------- checked numbers

def number(kind: type = float, minimum: float | None = None, maximum: float | None = None,
           above: bool = False, below: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite ``kind`` (int or float) within the bounds
    (``above``/``below``: strictly); anything else is refused at parsing
    with a message that says what is expected."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if minimum is not None and (value <= minimum if above else value < minimum):
            raise argparse.ArgumentTypeError(f"must be {'above' if above else 'at least'} {minimum:g}, got {text}")
        if maximum is not None and (value >= maximum if below else value > maximum):
            raise argparse.ArgumentTypeError(f"must be {'below' if below else 'at most'} {maximum:g}, got {text}")
        return value
    parse.__name__ = kind.__name__    # argparse names the type in its messages
    return parse


def yes_no(text: str) -> bool:
    """An argparse ``type`` for a switch RELION's External job may pass with a
    value from its parameter rows (``--keep_all yes``)."""
    value = text.strip().lower()
    if value in ("", "yes", "y", "true", "1", "on"):
        return True
    if value in ("no", "n", "false", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")


# option -> (settings field, type, original default, original help text)
PREPROCESSING_OPTIONS = {
    "boxsize": ("boxsize_px", number(int, 2), 200, "Boxsize to use when extracting particles"),
    "sigma_contrast": ("sigma_contrast", number(float, 0), 0.0,
                       "Sigma contrast to apply to image before particle extraction"),
    "lowpass": ("lowpass_A", number(float, 0), 0.0, "Lowpass filter resolution to apply"),
    "highpass": ("highpass_A", number(float, 0), 0.0, "Highpass filter resolution to apply"),
    "gaussian_sigma": ("gaussian_sigma_px", number(float, 0), 0.0, "Gaussian filter sigma to apply"),
    "resized_box": ("resized_px", number(int, 2), 32, "Resize boxsize used for training"),
}


def add_preprocessing_arguments(p: argparse.ArgumentParser, with_defaults: bool) -> None:
    """The preprocessing flags. Without defaults (evaluation) an omitted flag
    means 'as the model was trained'."""
    for flag, (_, typ, default, text) in PREPROCESSING_OPTIONS.items():
        suffix = f" (default {default})" if with_defaults else " (default: as in the model file)"
        p.add_argument(f"--{flag}", type=typ, default=default if with_defaults else None, help=text + suffix)
    p.add_argument("--apix", type=number(float, 0, above=True), default=None,
                   help="Angstroms per pixel in mrc file (default: the MRC header, else 1.0)")
    p.add_argument("--num_cores", type=number(int, 1), default=4, help="Number of cores to use (default 4)")
    p.add_argument("--image_dir", default=os.curdir,
                   help="Directory containing micrographs (default: the current directory)")
    p.add_argument("--ctf_star", default=None,
                   help="micrographs_ctf.star (RELION 3.0 or 3.1+): phase-flip each micrograph with its own CTF")
    p.add_argument("--fill_nonfinite", action="store_true",
                   help="replace NaN or infinite pixels by the micrograph's mean (by default such a "
                   "micrograph is an error)")
    p.add_argument("--no_progress", action="store_true",
                   help="no progress bars (they are drawn only on a terminal anyway)")


def listed_micrographs(listed: CoordinateList, image_dir: str) -> list[Path]:
    """The micrographs of a RELION 4/5 coordinate list: the paths it lists,
    or, when ``--image_dir`` was given, the files of those names in it."""
    return listed.micrograph_paths(None if image_dir == os.curdir else image_dir)


def add_coordinate_arguments(p: argparse.ArgumentParser) -> None:
    """How other pickers' coordinate files are read."""
    g = p.add_argument_group("other pickers' coordinates (crYOLO, Topaz, EMAN, cryoSPARC)")
    g.add_argument("--coord_format", choices=format_names(), default=None,
                   help="the coordinate files' format (default: recognised from each file's extension and content)")
    g.add_argument("--coord_scale", type=number(float, 0, above=True), default=1.0,
                   help="coordinates in the files times this are pixels of the micrographs (default 1): the "
                   "factor the picker shrank the micrographs by (Topaz's -x), or 0.5 for picks made on "
                   "micrographs twice the size")
    g.add_argument("--flip_y", action="store_true",
                   help="cryoSPARC: count y from the other edge (micrographs whose rows were stored the other way)")
    g.add_argument("--cs_project_dir", default=None,
                   help="cryoSPARC: the project folder its micrograph paths are relative to")


def coordinate_options(args: argparse.Namespace) -> CoordinateOptions:
    return CoordinateOptions(args.coord_format, args.coord_scale, args.flip_y,
                             Path(args.cs_project_dir) if args.cs_project_dir else None)


def add_relion_job_arguments(p: argparse.ArgumentParser, coords_help: str) -> None:
    """The arguments RELION gives an External job."""
    g = p.add_argument_group("as a RELION 4/5 External job (run from the project directory; see the README)")
    g.add_argument("--o", metavar="DIR", default=None,
                   help="the job's folder (External/jobNNN/): every output goes under it")
    g.add_argument("--in_coords", metavar="FILE", default=None, help=coords_help)
    g.add_argument("--in_mics", metavar="FILE", default=None,
                   help="micrographs_ctf.star: the micrographs' paths, pixel size and CTF")
    g.add_argument("--j", type=number(int, 1), default=None, help="worker threads (as --num_cores)")
    g.add_argument("--pipeline_control", default=None, help=argparse.SUPPRESS)
