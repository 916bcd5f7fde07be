"""trainingSetFromStarFiles.py ALL_SUFFIX CORRECT_SUFFIX OUTPUT_SUFFIX

For every ``<mic>CORRECT_SUFFIX`` in the micrographs folder, label each pick of
``<mic>ALL_SUFFIX`` P (kept by the user) or N (removed) and write
``<mic>OUTPUT_SUFFIX``.

RELION 4/5: ALL_SUFFIX may instead name a list of coordinate files
(``AutoPick/job006/autopick.star``, run in the project directory). The
cleaned copies are then beside each listed file, or listed in a ManualPick
job's list given as CORRECT_SUFFIX (matched by micrograph); the training
files are written beside the autopick files, and a list of them beside the
input list (``autopick_train.star``), for ``unpicker_train.py --train_root``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..files import atomic_write_text, find_by_suffix
from ..formats.relion import coordinate_list_given, coordinate_list_text, list_output_path, read_picks
from ..formats.star import StarError, with_marker
from ..guard import TRAINING, TRAINING_LIST, Output, check_outputs
from ..labels import label_micrograph
from .common import CommandError, RunState, number, run_command

USAGE = "\nUsage: trainingSetFromStarFiles.py allPickRootName correctPickRootName outputRootName\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trainingSetFromStarFiles.py",
        description="Label every autopick P (kept in the hand-cleaned file) or N (removed), "
        "one training file per hand-cleaned micrograph.",
    )
    p.add_argument("all_suffix", help="suffix of the autopicker's files, e.g. _autopick.star; or a RELION 4/5 "
                   "list of them, e.g. AutoPick/job006/autopick.star (run in the project directory)")
    p.add_argument("correct_suffix", help="suffix of the hand-cleaned copies, e.g. _autopick_correct.star; with a "
                   "list as ALL_SUFFIX, also a ManualPick job's list (ManualPick/job010/manualpick.star), matched "
                   "by micrograph")
    p.add_argument("output_suffix", help="suffix of the training files to write, e.g. _autopick_train.star")
    p.add_argument("--dir", default=".", help="folder holding the STAR files (default: the current folder)")
    p.add_argument("--match_distance", type=number(float, 0), default=1.0,
                   help="a cleaned pick within this many pixels of an autopick is the same pick (default 1)")
    p.add_argument("--keep_unreviewed", action="store_true",
                   help="also use micrographs from which nothing was removed (by default they are "
                   "skipped as probably never reviewed)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace STAR files where the training files go that emUnpicker did not write "
                   "(never an input)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(USAGE)
        return 2
    args = build_parser().parse_args(argv)
    return run_command(lambda state: _main(args, state))


def _main(args: argparse.Namespace, state: RunState) -> int:
    try:
        listed = coordinate_list_given(args.all_suffix)
        cleaned = coordinate_list_given(args.correct_suffix) if listed is not None else None
    except StarError as e:
        raise CommandError(str(e)) from None
    out_list = None
    if listed is not None:   # RELION 4/5: (micrograph, autopick, cleaned, training file) per listed row
        # the cleaned files: a ManualPick job's list, matched by micrograph, or copies beside the autopick files
        cleaned_by_mic = ({m.stem: Path(c) for m, c in zip(cleaned.micrograph_paths(), cleaned.coordinates)}
                          if cleaned is not None else {})
        todo = []
        for row, (mic_path, coords) in enumerate(zip(listed.micrograph_paths(), listed.coordinates)):
            mic, auto_path = mic_path.stem, Path(coords)
            correct_path = (cleaned_by_mic.get(mic) if cleaned is not None
                            else auto_path.with_name(mic + args.correct_suffix))
            if correct_path is not None and correct_path.is_file():
                todo.append((row, mic, auto_path, correct_path, auto_path.with_name(mic + args.output_suffix)))
        if not todo:
            first = listed.coordinates[0] if len(listed) else "(the list is empty)"
            what = (f"no micrograph of {args.all_suffix} has a coordinate file in {args.correct_suffix} that exists"
                    if cleaned is not None else
                    f"no *{args.correct_suffix} file beside the coordinate files that {args.all_suffix} lists, "
                    f"e.g. beside {first}")
            raise CommandError(f"{what} (the lists' paths are relative to the RELION project directory: run the "
                               "command there)")
        _, mic, auto_path, _, _ = todo[0]
        # the list of training files is named after the autopick files' suffix, as the evaluation's list is
        out_list = list_output_path(Path(args.all_suffix), auto_path.name[len(mic):], args.output_suffix)
    else:
        folder = Path(args.dir)
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        correct_files = find_by_suffix(folder, args.correct_suffix)
        if not correct_files:
            raise CommandError(f"no *{args.correct_suffix} files in {folder.resolve()}")
        todo = [(None, mic, folder / (mic + args.all_suffix), path, folder / (mic + args.output_suffix))
                for mic, path in correct_files]

    outputs = [Output(t[4], f"the training file of {t[1]}", TRAINING) for t in todo]
    outputs += [Output(out_list, "the list of training files", TRAINING_LIST)] if out_list else []
    inputs = [(t[2], f"the autopick file of {t[1]}") for t in todo] + [(t[3], f"the cleaned file of {t[1]}")
                                                                       for t in todo]
    inputs += [(Path(f), "an input list") for f in (args.all_suffix, args.correct_suffix) if f.endswith(".star")]
    check_outputs(outputs, inputs, overwrite=args.overwrite)

    failed = 0
    written = total_p = total_n = 0
    listed_rows, listed_outputs = [], []   # list mode: the rows given a training file
    for row, mic, auto_path, correct_path, out_path in todo:
        if not auto_path.exists():
            print(f"Skipped {mic}: {correct_path.name} has no autopick file {auto_path.name}", file=sys.stderr)
            failed += 1
            continue
        try:
            result = label_micrograph(read_picks(auto_path), read_picks(correct_path), args.match_distance)
        except StarError as e:
            print(f"Skipped {mic}: {e}", file=sys.stderr)
            failed += 1
            continue
        if result.n_removed == 0 and not args.keep_unreviewed:
            print(f"{mic}: No unpicks in that file! Can't use for training (use --keep_unreviewed to keep it)")
            continue
        atomic_write_text(out_path, with_marker(result.text, TRAINING))
        if row is not None:
            listed_rows.append(row)
            listed_outputs.append(str(out_path))
        written += 1
        total_p += result.n_particles
        total_n += result.n_removed
        state.done = f"{written} training files written, each complete"
        added = f" ({result.n_added} added by hand)" if result.n_added else ""
        print(f"{mic}: {result.n_particles} P, {result.n_removed} N{added} -> {out_path.name}")

    print(f"Total: {written} micrographs, {total_p} P, {total_n} N"
          + (f"; {failed} skipped because of errors" if failed else ""))
    if out_list is not None and listed_rows:
        atomic_write_text(out_list, with_marker(coordinate_list_text(listed, listed_rows, listed_outputs),
                                                TRAINING_LIST))
        print(f"Training files listed in {out_list} (unpicker_train.py --train_root {out_list})")
    return 1 if failed else 0
