"""unpicker_eval.py: unpick every autopick file in the micrographs folder with a trained model."""
from __future__ import annotations

import os

# Micrographs are prepared in worker threads (--num_cores); nested OpenBLAS
# threads in each would oversubscribe the cores (measured: bench/bench_eval.py).
# Set before NumPy is imported; a value the user exported wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..files import atomic_write_text, find_by_suffix
from ..formats.relion import (CoordinateList, coordinate_list_given, coordinate_list_text, list_output_path,
                              read_ctf_star)
from ..formats.star import StarError
from ..networks.backend import PRECISIONS
from ..networks.model_file import ModelFileError, model_base, read_model_info
from ..outputs import plot_score_histogram
from ..unpicking import UnpickJob, unpick
from .common import PREPROCESSING_OPTIONS, add_preprocessing_arguments, listed_micrographs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="unpicker_eval.py",
                                description="Remove the picks a trained model classifies as non-particles "
                                "(run in the micrographs directory).")
    p.add_argument("--train_output", default="model.ckpt",
                   help="File to save training data: the model (or checkpoint, e.g. model.ckpt-1200) to use")
    p.add_argument("--eval_file", default=None,
                   help="File to unpick (default: every *EVAL_ROOT file), or a RELION 4/5 list of coordinate files "
                   "(AutoPick/job006/autopick.star; run in the project directory): each listed file is unpicked "
                   "beside itself, and a list of the outputs (autopick_unpick.star) is written")
    p.add_argument("--eval_root", default="_autopick.star", help="File suffix for star files to unpick")
    p.add_argument("--output_root", default="_autopick_unpick.star", help="File suffix for unpicked star files")
    add_preprocessing_arguments(p, with_defaults=False)
    p.add_argument("--threshold", type=float, default=None,
                   help="keep picks whose particle probability is at least this (default: the model's, from its "
                   "validation micrographs: half the best F1 there, or 0 = keep all where removing picks "
                   "is not expected to gain; 0.5 without validation; the training log says which)")
    p.add_argument("--tta", type=int, choices=[1, 4, 8], default=None,
                   help="average the network over this many rotations/mirrors of each box; an ensemble's "
                   "networks share them out, and with 1 each sees the box as it is (default: the model's setting)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="the network's arithmetic. auto (default): bfloat16 when TensorFlow runs it on a CPU with native bfloat16 "
                   "(AVX512_BF16 or AMX; the network about 1.8x faster, 99%% of scores within 0.008), else float32")
    p.add_argument("--write_rejected", metavar="SUFFIX", default=None,
                   help="also write the removed picks to <mic>SUFFIX, for inspection")
    p.add_argument("--force", action="store_true",
                   help="use preprocessing options that differ from the model's training")
    p.add_argument("--overwrite", action="store_true",
                   help="redo micrographs whose output is newer than their inputs and the model")
    p.add_argument("--histogram", default="unpick_scores.png",
                   help="PNG histogram of all scores (default unpick_scores.png; '' for none)")
    return p


def _settings(args, model_settings):
    """The model's preprocessing, with the options given checked against it."""
    changes, conflicts = {}, []
    for flag, (name, _, _, _) in PREPROCESSING_OPTIONS.items():
        given = getattr(args, flag)
        if given is not None and given != getattr(model_settings, name):
            conflicts.append(f"--{flag} {given} (the model was trained with {getattr(model_settings, name)})")
            changes[name] = given
    if args.apix is not None and abs(args.apix - model_settings.apix) > 1e-6:
        conflicts.append(f"--apix {args.apix} (the model was trained with {model_settings.apix})")
        changes["apix"] = args.apix
    if bool(args.ctf_star) != model_settings.ctf_flip:
        conflicts.append("--ctf_star " + ("given but the model was trained without CTF correction" if args.ctf_star
                                          else "missing: the model was trained on phase-flipped micrographs"))
        changes["ctf_flip"] = bool(args.ctf_star)
    return replace(model_settings, **changes), conflicts


def _root(path: Path, eval_root: str) -> str:
    """``mic001_autopick.star`` -> ``mic001`` (or the stem, without the suffix)."""
    return path.name[: -len(eval_root)] if path.name.endswith(eval_root) else path.stem


def _output_name(path: Path, eval_root: str, suffix: str) -> Path:
    """``mic001_autopick.star`` -> ``mic001<suffix>`` beside it."""
    return path.with_name(_root(path, eval_root) + suffix)


def _jobs(args, listed: CoordinateList | None) -> list[UnpickJob]:
    """One job per micrograph: every ``*EVAL_ROOT`` file in the current
    folder, the ``--eval_file``, or each row of the coordinate list it holds."""
    image_dir = Path(args.image_dir)
    if listed is not None:   # RELION 4/5: paths relative to the project directory
        jobs = []
        mrcs = listed_micrographs(listed, args.image_dir)
        for mrc, coords in zip(mrcs, listed.coordinates):
            star = Path(coords)
            jobs.append(UnpickJob(mrc.stem, star, mrc, _output_name(star, args.eval_root, args.output_root),
                                _output_name(star, args.eval_root, args.write_rejected) if args.write_rejected
                                else None))
        return jobs
    if args.eval_file:
        path = Path(args.eval_file)
        found = [(_root(path, args.eval_root), path)]
        folder = path.parent
    else:
        folder = Path(".")
        found = find_by_suffix(folder, args.eval_root)
    return [UnpickJob(name, star, image_dir / (name + ".mrc"), folder / (name + args.output_root),
                    folder / (name + args.write_rejected) if args.write_rejected else None)
            for name, star in found]


def _up_to_date(job: UnpickJob, model_mtime: float) -> bool:
    try:
        out = job.output_path.stat().st_mtime
        return out > max(job.star_path.stat().st_mtime, job.mrc_path.stat().st_mtime, model_mtime)
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = sys.stdout
    if args.output_root == args.eval_root or (args.write_rejected and args.write_rejected == args.eval_root):
        print(f"Error: the output suffix {args.output_root} would overwrite the input files", file=sys.stderr)
        return 2
    try:
        info, networks = read_model_info(args.train_output)
    except ModelFileError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    try:
        settings, conflicts = _settings(args, info.preprocessing)
    except ValueError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    if conflicts and not args.force:
        print("Error: these options contradict the model's training and would invalidate it:\n  "
              + "\n  ".join(conflicts) + "\nLeave them out to use the model's values, or add --force.",
              file=sys.stderr)
        return 2
    threshold = info.threshold if args.threshold is None else args.threshold
    if not 0.0 <= threshold <= 1.0:
        print(f"Error: --threshold must be between 0 and 1, got {threshold}", file=sys.stderr)
        return 2
    try:
        ctfs = read_ctf_star(args.ctf_star)[0] if args.ctf_star else None
    except StarError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    tta = args.tta or int(info.extra.get("tta", 1))

    if args.eval_file and not Path(args.eval_file).is_file():
        print(f"Error: {args.eval_file}: file not found", file=sys.stderr)
        return 2
    try:
        listed = coordinate_list_given(args.eval_file)
    except StarError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    jobs = _jobs(args, listed)
    if not jobs:
        print(f"Error: no *{args.eval_root} files in {Path('.').resolve()}" if listed is None
              else f"Error: {args.eval_file}: the coordinate list is empty", file=sys.stderr)
        return 2
    if listed is not None:
        list_out = list_output_path(Path(args.eval_file), args.eval_root, args.output_root)
        if list_out.resolve() == Path(args.eval_file).resolve():
            print(f"Error: the output list {list_out} would overwrite the input list", file=sys.stderr)
            return 2
        if not any(j.star_path.is_file() for j in jobs):
            print(f"Error: {args.eval_file}: none of its coordinate files is found from {Path('.').resolve()}, "
                  f"e.g. {jobs[0].star_path} (its paths are relative to the RELION project directory: "
                  "run unpicker_eval.py there)", file=sys.stderr)
            return 2
        print(f"Coordinate list {args.eval_file}: {len(jobs)} micrographs", file=out)
    model_mtime = max([model_base(args.train_output).stat().st_mtime]
                      + [weights.stat().st_mtime for _, weights in networks])
    todo = [j for j in jobs if args.overwrite or not _up_to_date(j, model_mtime)]
    if len(todo) < len(jobs):
        print(f"{len(jobs) - len(todo)} micrographs already unpicked (outputs newer than inputs and model);"
              " --overwrite redoes them", file=out)
    print(f"Model {args.train_output}: network {info.network}, boxsize {settings.boxsize_px} -> "
          f"{settings.resized_px}, {settings.apix:g} Å/px, threshold {threshold:g}", file=out)

    from ..networks.backend import configure, import_keras, resolve_precision

    import_keras()
    from ..networks.architectures import build_network, inference_network
    from ..networks.scoring import ensemble_probability, member_views

    configure(args.num_cores, None)
    precision = resolve_precision(args.precision)
    print(f"Network arithmetic: {precision}" + (" (chosen for this CPU)" if args.precision == "auto" else ""),
          file=out)
    models = []
    for i, (member, weights) in enumerate(networks):   # one network, or an ensemble's members
        model = build_network(member.network, settings.resized_px)
        model.load_weights(weights)
        views = member_views(tta, i, len(networks))
        models.append((inference_network(model, precision), member.logit_shift, views))
    print("Initialized!", file=out)
    print("Calculating unpicks...", file=out)

    summary = unpick(todo, settings, lambda boxes: ensemble_probability(models, boxes),
                             threshold, args.num_cores, ctfs, out, progress=not args.no_progress)
    pct = 100.0 * summary.picks_kept / summary.picks_in if summary.picks_in else 0.0
    rate = summary.micrographs / summary.seconds if summary.seconds else 0.0
    print(f"Summary: {summary.micrographs} micrographs, {summary.picks_in} picks in, {summary.picks_kept} kept "
          f"({pct:.1f}%), {summary.seconds:.1f} s, {rate:.2f} micrographs/s", file=out)
    if summary.scores and args.histogram:
        plot_score_histogram(np.concatenate(summary.scores), threshold, args.histogram)
        print(f"Score histogram: {args.histogram}", file=out)
    if listed is not None:   # the kept picks' files, for RELION's Extract job
        failed = set(summary.failed)
        rows = [i for i, j in enumerate(jobs) if j.name not in failed]
        atomic_write_text(list_out, coordinate_list_text(listed, rows, [str(jobs[i].output_path) for i in rows]))
        print(f"Coordinate list of the unpicked files ({len(rows)} micrographs): {list_out}", file=out)
    if summary.failed:
        print(f"{len(summary.failed)} micrographs skipped because of errors: {', '.join(summary.failed)}",
              file=sys.stderr)
        return 1
    return 0
