"""trainingSetFromStarFiles.py ALL_SUFFIX CORRECT_SUFFIX OUTPUT_SUFFIX

For every ``<mic>CORRECT_SUFFIX`` in the micrographs folder, label each pick of
``<mic>ALL_SUFFIX`` P (kept by the user) or N (removed) and write
``<mic>OUTPUT_SUFFIX``. Any picker's one-micrograph files will do (RELION
STAR, crYOLO ``.cbox``, EMAN ``.box``, EMAN2 ``_info.json``), and a suffix
may name its folder: ``CBOX/.cbox CBOX_cleaned/.cbox _train.star``.

RELION 4/5: ALL_SUFFIX may instead name a list of coordinate files
(``AutoPick/job006/autopick.star``, run in the project directory). The
cleaned copies are then beside each listed file, or listed in a ManualPick
job's list given as CORRECT_SUFFIX (matched by micrograph); the training
files are written beside the autopick files, and a list of them beside the
input list (``autopick_train.star``), for ``unpicker_train.py --train_root``.
As a RELION External job (``--o DIR --in_coords LIST --cleaned CLEANED``)
everything goes under DIR instead.

A file of every micrograph's picks (Topaz, cryoSPARC ``.cs``) as ALL_SUFFIX
takes the file of the picks the user kept as CORRECT_SUFFIX (cryoSPARC:
matched by uid), and optionally the removed ones (``--rejected``); the
training files go in ``--dir``, with a list of them.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..files import atomic_write_text, find_by_suffix, split_suffix
from ..formats.picks import CoordinateOptions, MicrographPicks, detect_format, read_coordinates
from ..formats.relion import coordinate_list_given, coordinate_list_text, list_output_path, new_coordinate_list_text
from ..formats.star import StarError, with_marker
from ..guard import TRAINING, TRAINING_LIST, Output
from ..labels import label_micrograph
from ..relion_job import SUCCESS, finish, mirrored, relion_version, start, write_nodes
from .common import (CommandError, RunState, add_coordinate_arguments, add_relion_job_arguments, coordinate_options,
                     number, prepare_outputs, run_command)

USAGE = "\nUsage: trainingSetFromStarFiles.py allPickRootName correctPickRootName outputRootName\n"
JOB_LIST_NAME = "autopick_train.star"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trainingSetFromStarFiles.py",
        description="Label every autopick P (kept in the hand-cleaned file) or N (removed), "
        "one training file per hand-cleaned micrograph.",
    )
    p.add_argument("all_suffix", nargs="?", help="suffix of the autopicker's files, e.g. _autopick.star (a folder may "
                   "lead it: CBOX/.cbox); or a RELION 4/5 list of them, e.g. AutoPick/job006/autopick.star (run in the "
                   "project directory); or a file of every micrograph's picks (Topaz, cryoSPARC .cs)")
    p.add_argument("correct_suffix", nargs="?", help="suffix of the hand-cleaned copies, e.g. _autopick_correct.star; "
                   "with a list as ALL_SUFFIX, also a ManualPick job's list (ManualPick/job010/manualpick.star), "
                   "matched by micrograph; with a file of every micrograph, the file of the picks kept")
    p.add_argument("output_suffix", nargs="?", help="suffix of the training files to write, e.g. _autopick_train.star")
    p.add_argument("--dir", default=".", help="folder holding the STAR files (default: the current folder)")
    p.add_argument("--match_distance", type=number(float, 0), default=1.0,
                   help="a cleaned pick within this many pixels of an autopick is the same pick (default 1)")
    p.add_argument("--keep_unreviewed", action="store_true",
                   help="also use micrographs from which nothing was removed (by default they are "
                   "skipped as probably never reviewed)")
    p.add_argument("--rejected", default=None, metavar="FILE",
                   help="the picks the user removed (a cryoSPARC 'rejected' .cs, say), same format as ALL_SUFFIX: "
                   "then autopicks in neither file were not reviewed, and are left out")
    p.add_argument("--overwrite", action="store_true",
                   help="replace STAR files where the training files go that emUnpicker did not write "
                   "(never an input)")
    add_coordinate_arguments(p)
    add_relion_job_arguments(p, "the autopicks, a RELION 4/5 list of coordinate files (AutoPick/jobNNN/autopick.star)")
    p.add_argument("--cleaned", default=None, metavar="CLEANED",
                   help="as a RELION job: a ManualPick job's list, or the suffix of cleaned copies beside the "
                   "autopick files")
    return p


@dataclass
class Micrograph:
    """One micrograph to label: its name, the loaders of its autopicks and
    cleaned picks (and removed ones, if given), where its training file goes,
    and (a list's) its micrograph path and row."""

    name: str
    auto: Callable[[], MicrographPicks]
    correct: Callable[[], MicrographPicks]
    output: Path
    auto_path: Path
    correct_path: Path
    rejected: Callable[[], MicrographPicks] | None = None
    micrograph: str | None = None
    row: int | None = None


@dataclass
class TrainingSetPlan:
    micrographs: list[Micrograph]
    list_out: Path | None = None
    listed: object = None               # the RELION list the rows belong to, if any
    inputs: list[tuple[Path, str]] = None


def _loader(path: Path, name: str, opts: CoordinateOptions) -> Callable[[], MicrographPicks]:
    def load() -> MicrographPicks:
        (picks,) = read_coordinates(path, opts, name)
        return picks
    return load


def plan_training_set(all_arg: str, correct_arg: str, output_suffix: str, folder: Path, opts: CoordinateOptions,
                      job_dir: Path | None = None, rejected: str | None = None) -> TrainingSetPlan:
    """Which micrographs to label, from what, into what (see the module docstring)."""
    try:
        listed = coordinate_list_given(all_arg)
        cleaned = coordinate_list_given(correct_arg) if listed is not None else None
    except StarError as e:
        raise CommandError(str(e)) from None
    inputs = [(Path(f), "an input list") for f in (all_arg, correct_arg, rejected) if f and Path(f).is_file()]
    if listed is not None:   # RELION 4/5: (micrograph, autopick, cleaned, training file) per listed row
        # the cleaned files: a ManualPick job's list, matched by micrograph, or copies beside the autopick files
        cleaned_by_mic = ({m.stem: Path(c) for m, c in zip(cleaned.micrograph_paths(), cleaned.coordinates)}
                          if cleaned is not None else {})
        mics = []
        for row, (mic_path, coords) in enumerate(zip(listed.micrograph_paths(), listed.coordinates)):
            mic, auto_path = mic_path.stem, Path(coords)
            correct_path = (cleaned_by_mic.get(mic) if cleaned is not None
                            else auto_path.with_name(mic + correct_arg))
            if correct_path is None or not correct_path.is_file():
                continue
            auto_suffix = auto_path.name[len(mic):]
            out = auto_path.with_name(mic + output_suffix)
            if job_dir is not None:
                out = mirrored(auto_path, Path(all_arg).parent, job_dir).with_name(mic + output_suffix)
            mics.append(Micrograph(mic, _loader(auto_path, mic, opts), _loader(correct_path, mic, opts), out,
                                   auto_path, correct_path, micrograph=str(mic_path), row=row))
        if not mics:
            first = listed.coordinates[0] if len(listed) else "(the list is empty)"
            what = (f"no micrograph of {all_arg} has a coordinate file in {correct_arg} that exists"
                    if cleaned is not None else
                    f"no *{correct_arg} file beside the coordinate files that {all_arg} lists, e.g. beside {first}")
            raise CommandError(f"{what} (the lists' paths are relative to the RELION project directory: run the "
                               "command there)")
        # the list of training files is named after the autopick files' suffix, as the evaluation's list is
        list_out = (job_dir / JOB_LIST_NAME if job_dir is not None
                    else list_output_path(Path(all_arg), auto_suffix, output_suffix))
        return TrainingSetPlan(mics, list_out, listed, inputs)
    if Path(all_arg).is_file() and not detect_format(all_arg, opts.format).per_micrograph:
        auto_path, correct_path = Path(all_arg), Path(correct_arg)
        try:
            autos = {p.micrograph: p for p in read_coordinates(auto_path, opts)}
            corrects = {p.micrograph: p for p in read_coordinates(correct_path, opts)}
            rejects = {p.micrograph: p for p in read_coordinates(rejected, opts)} if rejected else None
        except StarError as e:
            raise CommandError(str(e)) from None
        out_folder = job_dir or folder
        mics = []
        for name, picks in autos.items():
            if name not in corrects and not (rejects and name in rejects):
                continue
            empty = MicrographPicks(name, picks.xy[:0], str(correct_path), picks.format,
                                    uid=picks.uid[:0] if picks.uid is not None else None)
            mics.append(Micrograph(name, (lambda p=picks: p), (lambda p=corrects.get(name, empty): p),
                                   out_folder / (name + output_suffix), auto_path, correct_path,
                                   (lambda p=rejects.get(name, empty): p) if rejects is not None else None,
                                   micrograph=picks.micrograph_path or f"{name}.mrc"))
        if not mics:
            raise CommandError(f"no micrograph of {auto_path} has picks in {correct_path}")
        stem = auto_path.name.split(".")[0]
        return TrainingSetPlan(mics, out_folder / f"{stem}{output_suffix}", None, inputs)
    auto_folder, auto_suffix = split_suffix(all_arg, folder)
    correct_folder, correct_suffix = split_suffix(correct_arg, folder)
    out_folder, out_suffix = split_suffix(output_suffix, folder) if job_dir is None else (job_dir, output_suffix)
    if not correct_folder.is_dir():
        raise CommandError(f"{correct_folder} is not a folder")
    correct_files = find_by_suffix(correct_folder, correct_suffix)
    if not correct_files:
        raise CommandError(f"no *{correct_suffix} files in {correct_folder.resolve()}")
    mics = [Micrograph(mic, _loader(auto_folder / (mic + auto_suffix), mic, opts), _loader(path, mic, opts),
                       out_folder / (mic + out_suffix), auto_folder / (mic + auto_suffix), path)
            for mic, path in correct_files]
    return TrainingSetPlan(mics, None, None, inputs)


def build_training_set(plan: TrainingSetPlan, match_distance: float, keep_unreviewed: bool, overwrite: bool,
                       state: RunState, out=None) -> int:
    """Write the plan's training files (and their list): 0, or 1 when some
    micrograph was skipped because of an error (named on stderr)."""
    out = out or sys.stdout
    outputs = [Output(m.output, f"the training file of {m.name}", TRAINING) for m in plan.micrographs]
    outputs += [Output(plan.list_out, "the list of training files", TRAINING_LIST)] if plan.list_out else []
    inputs = list(plan.inputs or [])
    inputs += [(m.auto_path, f"the autopick file of {m.name}") for m in plan.micrographs]
    inputs += [(m.correct_path, f"the cleaned file of {m.name}") for m in plan.micrographs]
    prepare_outputs(outputs, inputs, overwrite=overwrite)
    for folder in {m.output.parent for m in plan.micrographs}:
        folder.mkdir(parents=True, exist_ok=True)

    failed = written = total_p = total_n = 0
    listed_rows, listed_outputs, listed_mics = [], [], []
    for m in plan.micrographs:
        if not m.auto_path.exists():
            print(f"Skipped {m.name}: {m.correct_path.name} has no autopick file {m.auto_path.name}", file=sys.stderr)
            failed += 1
            continue
        try:
            result = label_micrograph(m.auto(), m.correct(), match_distance, m.rejected() if m.rejected else None)
        except StarError as e:
            print(f"Skipped {m.name}: {e}", file=sys.stderr)
            failed += 1
            continue
        if result.n_removed == 0 and not keep_unreviewed:
            print(f"{m.name}: No unpicks in that file! Can't use for training (use --keep_unreviewed to keep it)",
                  file=out)
            continue
        atomic_write_text(m.output, with_marker(result.text, TRAINING))
        listed_rows.append(m.row)
        listed_outputs.append(str(m.output))
        listed_mics.append(m.micrograph)
        written += 1
        total_p += result.n_particles
        total_n += result.n_removed
        state.done = f"{written} training files written, each complete"
        added = f" ({result.n_added} added by hand)" if result.n_added else ""
        print(f"{m.name}: {result.n_particles} P, {result.n_removed} N{added} -> {m.output.name}", file=out)

    print(f"Total: {written} micrographs, {total_p} P, {total_n} N"
          + (f"; {failed} skipped because of errors" if failed else ""), file=out)
    if plan.list_out is not None and listed_rows:
        text = (coordinate_list_text(plan.listed, listed_rows, listed_outputs) if plan.listed is not None
                else new_coordinate_list_text(listed_mics, listed_outputs))
        atomic_write_text(plan.list_out, with_marker(text, TRAINING_LIST))
        print(f"Training files listed in {plan.list_out} (unpicker_train.py --train_root {plan.list_out})", file=out)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(USAGE)
        return 2
    args = build_parser().parse_args(argv)
    return run_command(lambda state: _main(args, state))


def _main(args: argparse.Namespace, state: RunState) -> int:
    opts = coordinate_options(args)
    if args.o:
        if not (args.in_coords and args.cleaned):
            raise CommandError("--o (a RELION job) needs --in_coords (the autopicks' list) and --cleaned")
        job_dir = Path(args.o)
        state.job_dir = job_dir
        start(job_dir)
        plan = plan_training_set(args.in_coords, args.cleaned, args.output_suffix or "_train.star", Path("."), opts,
                                 job_dir, args.rejected)
        status = build_training_set(plan, args.match_distance, args.keep_unreviewed, args.overwrite, state)
        write_nodes(job_dir, [(plan.list_out, "training")], relion_version())
        finish(job_dir, SUCCESS)
        return status
    if not (args.all_suffix and args.correct_suffix and args.output_suffix):
        raise CommandError("give ALL_SUFFIX CORRECT_SUFFIX OUTPUT_SUFFIX (or, as a RELION job, --o, --in_coords and "
                           "--cleaned)" + USAGE)
    folder = Path(args.dir)
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder")
    plan = plan_training_set(args.all_suffix, args.correct_suffix, args.output_suffix, folder, opts,
                             rejected=args.rejected)
    return build_training_set(plan, args.match_distance, args.keep_unreviewed, args.overwrite, state)
