"""trainingSetFromStarFiles.py ALL_SUFFIX CORRECT_SUFFIX OUTPUT_SUFFIX

For every ``<mic>CORRECT_SUFFIX`` in the micrographs folder, label each pick of
``<mic>ALL_SUFFIX`` P (kept by the user) or N (removed) and write
``<mic>OUTPUT_SUFFIX``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..coords import read_picks
from ..files import atomic_write_text, find_by_suffix
from ..star import StarError
from ..trainingset import label_micrograph

USAGE = "\nUsage: trainingSetFromStarFiles.py allPickRootName correctPickRootName outputRootName\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trainingSetFromStarFiles.py",
        description="Label every autopick P (kept in the hand-cleaned file) or N (removed), "
        "one training file per hand-cleaned micrograph.",
    )
    p.add_argument("all_suffix", help="suffix of the autopicker's files, e.g. _autopick.star")
    p.add_argument("correct_suffix", help="suffix of the hand-cleaned copies, e.g. _autopick_correct.star")
    p.add_argument("output_suffix", help="suffix of the training files to write, e.g. _autopick_train.star")
    p.add_argument("--dir", default=".", help="folder holding the STAR files (default: the current folder)")
    p.add_argument("--match_distance", type=float, default=1.0,
                   help="a cleaned pick within this many pixels of an autopick is the same pick (default 1)")
    p.add_argument("--keep_unreviewed", action="store_true",
                   help="also use micrographs from which nothing was removed (by default they are "
                   "skipped as probably never reviewed)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(USAGE)
        return 2
    args = build_parser().parse_args(argv)
    if args.output_suffix in (args.all_suffix, args.correct_suffix):
        print(f"Error: the output suffix {args.output_suffix} would overwrite the input files", file=sys.stderr)
        return 2
    folder = Path(args.dir)
    if not folder.is_dir():
        print(f"Error: {folder} is not a folder", file=sys.stderr)
        return 2
    correct_files = find_by_suffix(folder, args.correct_suffix)
    if not correct_files:
        print(f"Error: no *{args.correct_suffix} files in {folder.resolve()}", file=sys.stderr)
        return 2

    failed = 0
    written = total_p = total_n = 0
    for mic, correct_path in correct_files:
        auto_path = folder / (mic + args.all_suffix)
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
        out_path = folder / (mic + args.output_suffix)
        atomic_write_text(out_path, result.text)
        written += 1
        total_p += result.n_particles
        total_n += result.n_removed
        added = f" ({result.n_added} added by hand)" if result.n_added else ""
        print(f"{mic}: {result.n_particles} P, {result.n_removed} N{added} -> {out_path.name}")

    print(f"Total: {written} micrographs, {total_p} P, {total_n} N"
          + (f"; {failed} skipped because of errors" if failed else ""))
    return 1 if failed else 0
