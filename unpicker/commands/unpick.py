"""unpicker_eval.py: unpick every autopick file in the micrographs folder with a trained model."""
from __future__ import annotations

import os

# Micrographs are prepared in worker threads (--num_cores); nested OpenBLAS
# threads in each would oversubscribe the cores (measured: bench/bench_eval.py).
# Set before NumPy is imported; a value the user exported wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import hashlib
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..files import atomic_write_text, find_by_suffix
from ..formats.relion import (CoordinateList, coordinate_list_given, coordinate_list_text, list_output_path,
                              read_ctf_star)
from ..formats.star import StarError, with_marker
from ..guard import PLOT, UNPICKED, UNPICKED_LIST, REJECTED, Output, check_outputs
from ..networks.backend import PRECISIONS
from ..networks.model_file import ModelFileError, model_base, read_model_info
from ..outputs import plot_score_histogram, unpicked_with, write_outputs
from ..unpicking import UnpickJob, UnpickSummary, unpick
from .common import (PREPROCESSING_OPTIONS, CommandError, RunState, add_preprocessing_arguments, listed_micrographs,
                     number, run_command, show_progress)


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
    p.add_argument("--threshold", type=number(float, 0, 1), default=None,
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
                   help="redo micrographs already unpicked with these settings, and replace outputs that "
                   "emUnpicker did not write (never an input)")
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


def _up_to_date(job: UnpickJob, inputs_mtime: float, settings: str) -> bool:
    """Whether a micrograph's outputs exist, are newer than its inputs and the
    model, and were written with these settings."""
    try:
        outputs = [job.output_path] + ([job.rejected_path] if job.rejected_path else [])
        newer = min(p.stat().st_mtime for p in outputs) > max(
            job.star_path.stat().st_mtime, job.mrc_path.stat().st_mtime, inputs_mtime)
    except OSError:
        return False
    return newer and all(unpicked_with(p) == settings for p in outputs)


def _run_settings(args: argparse.Namespace, model: Path, threshold: float, tta: int, settings) -> str:
    """What an output records it was unpicked with: what changes its scores
    or what is kept (a re-run with other settings redoes the micrograph)."""
    digest = hashlib.sha1(f"{model.read_bytes()!r}|{settings}".encode()).hexdigest()[:12]
    return (f"model {model.name} [{digest}], threshold {threshold:g}, tta {tta}, precision {args.precision}"
            + (", forced preprocessing" if args.force else ""))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(lambda state: _main(args, state))


def _main(args: argparse.Namespace, state: RunState) -> int:
    out = sys.stdout
    try:
        info, networks = read_model_info(args.train_output)
    except ModelFileError as e:
        raise CommandError(str(e)) from None
    try:
        settings, conflicts = _settings(args, info.preprocessing)
    except ValueError as e:
        raise CommandError(str(e)) from None
    if conflicts and not args.force:
        raise CommandError("these options contradict the model's training and would invalidate it:\n  "
                           + "\n  ".join(conflicts) + "\nLeave them out to use the model's values, or add --force.")
    threshold = info.threshold if args.threshold is None else args.threshold
    try:
        ctfs = read_ctf_star(args.ctf_star)[0] if args.ctf_star else None
    except StarError as e:
        raise CommandError(str(e)) from None
    tta = args.tta or int(info.extra.get("tta", 1))

    if args.eval_file and not Path(args.eval_file).is_file():
        raise CommandError(f"{args.eval_file}: file not found")
    try:
        listed = coordinate_list_given(args.eval_file)
    except StarError as e:
        raise CommandError(str(e)) from None
    jobs = _jobs(args, listed)
    if not jobs:
        raise CommandError(f"no *{args.eval_root} files in {Path('.').resolve()}" if listed is None
                           else f"{args.eval_file}: the coordinate list is empty")
    list_out = None
    if listed is not None:
        list_out = list_output_path(Path(args.eval_file), args.eval_root, args.output_root)
        if not any(j.star_path.is_file() for j in jobs):
            raise CommandError(f"{args.eval_file}: none of its coordinate files is found from {Path('.').resolve()}, "
                               f"e.g. {jobs[0].star_path} (its paths are relative to the RELION project directory: "
                               "run unpicker_eval.py there)")
        print(f"Coordinate list {args.eval_file}: {len(jobs)} micrographs", file=out)

    model = model_base(args.train_output)
    model_files = [model] + [weights for _, weights in networks]
    outputs = [Output(j.output_path, f"the unpicked picks of {j.name}", UNPICKED) for j in jobs]
    outputs += [Output(j.rejected_path, f"the removed picks of {j.name}", REJECTED) for j in jobs if j.rejected_path]
    outputs += [Output(list_out, "the list of unpicked files", UNPICKED_LIST)] if list_out else []
    outputs += [Output(Path(args.histogram), "the score histogram", PLOT)] if args.histogram else []
    inputs = [(j.star_path, f"the coordinate file of {j.name}") for j in jobs]
    inputs += [(j.mrc_path, f"the micrograph {j.name}") for j in jobs]
    inputs += [(f, "the model") for f in model_files]
    inputs += [(Path(f), "an input list") for f in (args.eval_file, args.ctf_star) if f]
    check_outputs(outputs, inputs, overwrite=args.overwrite)

    run_settings = _run_settings(args, model, threshold, tta, settings)
    inputs_mtime = max(f.stat().st_mtime for f in model_files)
    todo = [j for j in jobs if args.overwrite or not _up_to_date(j, inputs_mtime, run_settings)]
    if len(todo) < len(jobs):
        print(f"{len(jobs) - len(todo)} micrographs already unpicked with these settings (outputs newer than "
              "inputs and model); --overwrite redoes them", file=out)
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
        model_net = build_network(member.network, settings.resized_px)
        try:
            model_net.load_weights(weights)
        except Exception as e:     # h5py and Keras raise many kinds for a damaged file
            raise CommandError(f"{weights}: cannot be read as the {member.network} network's weights "
                               f"({type(e).__name__}: {e}); is the file complete?") from None
        models.append((inference_network(model_net, precision), member.logit_shift,
                       member_views(tta, i, len(networks))))
    print("Initialized!", file=out)
    print("Calculating unpicks...", file=out)

    def write(job: UnpickJob, picks, prob: np.ndarray) -> int:
        return write_outputs(picks, prob, threshold, job.output_path, job.rejected_path, run_settings)

    def done(summary: UnpickSummary) -> None:
        state.done = f"{summary.micrographs} of {len(todo)} micrographs unpicked, each output complete"
        state.resume = "run the same command again to unpick the others"

    summary = unpick(todo, settings, lambda boxes: ensemble_probability(models, boxes), write, args.num_cores,
                     ctfs, out, progress=show_progress(args), fill_nonfinite=args.fill_nonfinite, on_done=done)
    pct = 100.0 * summary.picks_kept / summary.picks_in if summary.picks_in else 0.0
    rate = summary.micrographs / summary.seconds if summary.seconds else 0.0
    print(f"Summary: {summary.micrographs} micrographs, {summary.picks_in} picks in, {summary.picks_kept} kept "
          f"({pct:.1f}%), {summary.seconds:.1f} s, {rate:.2f} micrographs/s", file=out)
    if summary.scores and args.histogram:
        plot_score_histogram(np.concatenate(summary.scores), threshold, args.histogram)
        print(f"Score histogram: {args.histogram}", file=out)
    if list_out is not None:   # the kept picks' files, for RELION's Extract job
        failed = set(summary.failed)
        rows = [i for i, j in enumerate(jobs) if j.name not in failed]
        atomic_write_text(list_out, with_marker(
            coordinate_list_text(listed, rows, [str(jobs[i].output_path) for i in rows]), UNPICKED_LIST))
        print(f"Coordinate list of the unpicked files ({len(rows)} micrographs): {list_out}", file=out)
    if summary.failed:
        print(f"{len(summary.failed)} micrographs skipped because of errors: {', '.join(summary.failed)}",
              file=sys.stderr)
        return 1
    return 0
