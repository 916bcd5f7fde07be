"""unpicker_eval.py: unpick every autopick file in the micrographs folder with a trained model.

Where the picks come from, and where the unpicked ones go:

- the legacy route: every ``<mic>EVAL_ROOT`` file in the current folder (or
  ``--eval_file``), each unpicked beside itself as ``<mic>OUTPUT_ROOT``;
- a RELION 4/5 list (``--eval_file AutoPick/job006/autopick.star``): each
  listed file unpicked beside itself, and a list of the outputs;
- as a RELION External job (``--o DIR --in_coords LIST``): the outputs under
  ``DIR``, mirroring the input's folders, with the list ``DIR/autopick.star``
  and the node and exit files RELION reads;
- another picker's file of every micrograph (Topaz, cryoSPARC): one output
  file of the same kind, ``<name>_unpick<ext>``.

Outputs are in the input's format unless ``--output_format star``.
"""
from __future__ import annotations

import os

# Micrographs are prepared in worker threads (--num_cores); nested OpenBLAS
# threads in each would oversubscribe the cores (measured: bench/bench_eval.py).
# Set before NumPy is imported; a value the user exported wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..files import atomic_write_text, find_by_suffix, read_sidecar, split_suffix
from ..formats.picks import (CoordinateFormat, CoordinateOptions, MicrographPicks, detect_format, get_format,
                             read_coordinates, score_text, written_scores)
from ..formats.relion import (CoordinateList, coordinate_list_given, coordinate_list_text, list_output_path,
                              new_coordinate_list_text, read_ctf_star, read_micrograph_paths, read_pixel_size,
                              scored_columns)
from ..formats.star import StarError, format_loop_block, read_marker, with_marker
from ..guard import PLOT, REJECTED, REPORT, UNPICKED, UNPICKED_LIST, Output
from ..networks.backend import PRECISIONS
from ..networks.model_file import ModelFileError, model_base, read_model_info
from ..outputs import plot_score_histogram
from ..relion_job import (SUCCESS, Shard, check_abort, finish, mirrored, parse_shard, relion_version,
                          shard_from_environment, start, write_nodes)
from ..suggest import Suggestion, format_suggestions, suggest_micrographs
from ..unpicking import UnpickJob, UnpickSummary, unpick
from .common import (PREPROCESSING_OPTIONS, CommandError, RunState, add_coordinate_arguments,
                     add_preprocessing_arguments, add_relion_job_arguments, coordinate_options, listed_micrographs,
                     number, prepare_outputs, run_command, show_progress, yes_no)

# what RELION names the list of coordinate files an External job hands to Extract
JOB_LIST_NAME = "autopick.star"
SHARDS_FOLDER = ".unpicker_shards"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="unpicker_eval.py",
                                description="Remove the picks a trained model classifies as non-particles "
                                "(run in the micrographs directory).")
    p.add_argument("--train_output", default="model.ckpt",
                   help="File to save training data: the model (or checkpoint, e.g. model.ckpt-1200) to use")
    p.add_argument("--eval_file", default=None,
                   help="File to unpick (default: every *EVAL_ROOT file); or a RELION 4/5 list of coordinate files "
                   "(AutoPick/job006/autopick.star; run in the project directory): each listed file is unpicked "
                   "beside itself, and a list of the outputs (autopick_unpick.star) is written; or a file of every "
                   "micrograph's picks (Topaz, cryoSPARC .cs)")
    p.add_argument("--eval_root", default="_autopick.star",
                   help="File suffix for star files to unpick (any picker's: .cbox, .box, _info.json; a folder may "
                   "lead it: CBOX/.cbox)")
    p.add_argument("--output_root", default=None,
                   help="File suffix for unpicked star files (default _autopick_unpick.star: the input's suffix "
                   "with _unpick before its extension)")
    add_preprocessing_arguments(p, with_defaults=False)
    p.add_argument("--threshold", type=number(float, 0, 1), default=None,
                   help="keep picks whose particle probability is at least this (default: the model's, from its "
                   "validation micrographs: half the best F1 there, or 0 = keep all where removing picks "
                   "is not expected to gain; 0.5 without validation; the training log says which)")
    p.add_argument("--keep_all", type=yes_no, nargs="?", const=True, default=False, metavar="yes|no",
                   help="write every pick with its score (_rlnAutopickFigureOfMerit), removing none: set the "
                   "threshold later, in RELION's Extract (--minimum_pick_fom)")
    p.add_argument("--tta", type=int, choices=[1, 4, 8], default=None,
                   help="average the network over this many rotations/mirrors of each box; an ensemble's "
                   "networks share them out, and with 1 each sees the box as it is (default: the model's setting)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="the network's arithmetic. auto (default): bfloat16 when TensorFlow runs it on a CPU with "
                   "native bfloat16 (AVX512_BF16 or AMX; the network about 1.8x faster, 99%% of scores within "
                   "0.008), else float32")
    p.add_argument("--write_rejected", metavar="SUFFIX", default=None,
                   help="also write the removed picks to <mic>SUFFIX, for inspection (for a file of every "
                   "micrograph: <name>_rejected<ext>)")
    p.add_argument("--output_format", choices=["same", "star"], default="same",
                   help="same (default): the input's format; star: RELION STAR files, whatever the input")
    p.add_argument("--force", action="store_true",
                   help="use preprocessing options that differ from the model's training")
    p.add_argument("--overwrite", action="store_true",
                   help="redo micrographs already unpicked with these settings, and replace outputs that "
                   "emUnpicker did not write (never an input)")
    p.add_argument("--histogram", default=None,
                   help="PNG histogram of all scores (default unpick_scores.png, in --o's folder for a RELION job; "
                   "'' for none)")
    g = p.add_argument_group("the report (index.html, opened in a browser)")
    g.add_argument("--report", default=None, metavar="DIR",
                   help="the folder of the report (default unpick_report, in --o's folder for a RELION job)")
    g.add_argument("--no_report", action="store_true", help="no report")
    g.add_argument("--report_micrographs", type=number(int, 0), default=12, metavar="N",
                   help="micrographs drawn with their picks (default 12: the unusual ones and a random few)")
    p.add_argument("--suggest", type=number(int, 0), default=0, metavar="N",
                   help="list the N micrographs whose cleaning would teach the model most (its picks closest to "
                   "the threshold, its share of kept picks farthest from the training picks'); clean them, add "
                   "them to the training set and train again")
    add_coordinate_arguments(p)
    add_relion_job_arguments(p, "a RELION 4/5 list of the coordinate files to unpick (AutoPick/jobNNN/autopick.star)")
    g = p.add_argument_group("many micrographs on a cluster")
    g.add_argument("--shard", default=None, metavar="I/N",
                   help="unpick only the I-th of N equal parts of the micrographs (default: the part of a SLURM "
                   "array task, from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT); the last part to finish "
                   "writes the list and the summary")
    g.add_argument("--gather", action="store_true",
                   help="only write the list and the summary of the parts' outputs")
    return p


def _settings(args, model_settings, micrographs_apix: float | None):
    """The model's preprocessing, with the options given checked against it."""
    changes, conflicts = {}, []
    for flag, (name, _, _, _) in PREPROCESSING_OPTIONS.items():
        given = getattr(args, flag)
        if given is not None and given != getattr(model_settings, name):
            conflicts.append(f"--{flag} {given} (the model was trained with {getattr(model_settings, name)})")
            changes[name] = given
    apix = args.apix if args.apix is not None else micrographs_apix
    if apix is not None and abs(apix - model_settings.apix) > 1e-3 * model_settings.apix:
        where = "--apix" if args.apix is not None else f"{args.in_mics}'s pixel size"
        conflicts.append(f"{where} {apix:g} (the model was trained with {model_settings.apix:g})")
        changes["apix"] = apix
    if args.ctf_star and not model_settings.ctf_flip:
        conflicts.append("--ctf_star given but the model was trained without CTF correction")
    if model_settings.ctf_flip and not (args.ctf_star or args.in_mics):
        conflicts.append("--ctf_star (or --in_mics) missing: the model was trained on phase-flipped micrographs")
        changes["ctf_flip"] = False
    return replace(model_settings, **changes), conflicts


def default_output_suffix(input_suffix: str, fmt: CoordinateFormat) -> str:
    """``_autopick.star`` -> ``_autopick_unpick.star``, ``.cbox`` ->
    ``_unpick.cbox``: ``_unpick`` before the format's extension."""
    ext = next((e for e in fmt.extensions if input_suffix.lower().endswith(e)), Path(input_suffix).suffix)
    return input_suffix[:len(input_suffix) - len(ext)] + "_unpick" + ext


def _root(path: Path, suffix: str) -> str:
    """``mic001_autopick.star`` -> ``mic001`` (or the stem, without the suffix)."""
    return path.name[: -len(suffix)] if path.name.endswith(suffix) else path.stem


@dataclass
class Plan:
    """What a run unpicks and writes: one job per micrograph, where a file of
    every micrograph goes (``combined``), and the list of outputs (if any)."""

    jobs: list[UnpickJob]
    input_format: CoordinateFormat
    output_format: CoordinateFormat
    list_out: Path | None = None
    listed: CoordinateList | None = None
    list_rows: list[int] = field(default_factory=list)    # per job: its row of ``listed``
    combined: Path | None = None                          # one output file for every micrograph
    combined_rejected: Path | None = None
    inputs: list[tuple[Path, str]] = field(default_factory=list)


def _plan(args, opts: CoordinateOptions, job_dir: Path | None, mic_paths: dict[str, str]) -> Plan:
    """The jobs of this run (see the module docstring)."""
    image_dir = Path(args.image_dir)

    def mrc(name: str, listed_path: str | None = None) -> Path:
        if args.image_dir != os.curdir:
            return image_dir / f"{name}.mrc"
        if name in mic_paths:
            return Path(mic_paths[name])
        return Path(listed_path) if listed_path else image_dir / f"{name}.mrc"

    source = args.in_coords or args.eval_file
    if source and not Path(source).is_file():
        raise CommandError(f"{source}: file not found")
    try:
        listed = coordinate_list_given(source)
    except StarError as e:
        raise CommandError(str(e)) from None
    star = get_format("relion")
    if listed is not None:      # a RELION 4/5 list of one-micrograph files (relative to the project)
        list_dir = Path(source).parent
        paths = [Path(c) for c in listed.coordinates]
        fmt = detect_format(paths[0], args.coord_format) if paths and paths[0].is_file() else star
        out_fmt = star if args.output_format == "star" else fmt
        suffix = args.output_root or default_output_suffix(args.eval_root, out_fmt)
        mrcs = listed_micrographs(listed, args.image_dir)
        jobs = []
        for path, m in zip(paths, mrcs):
            name = m.stem
            if job_dir is not None:
                out = mirrored(path, list_dir, job_dir)
                if args.output_format == "star" and fmt is not star:
                    out = out.with_name(_root(path, args.eval_root) + suffix)
            else:
                out = path.with_name(_root(path, args.eval_root) + suffix)
            rejected = out.with_name(_root(path, args.eval_root) + args.write_rejected) if args.write_rejected \
                else None
            jobs.append(UnpickJob(name, path, mrc(name, str(m)), out, rejected,
                                  _one_file_loader(path, name, opts)))
        list_out = (job_dir / JOB_LIST_NAME if job_dir is not None
                    else list_output_path(Path(source), args.eval_root, suffix))
        if jobs and not any(j.picks_path.is_file() for j in jobs):
            raise CommandError(f"{source}: none of its coordinate files is found from {Path('.').resolve()}, "
                               f"e.g. {jobs[0].picks_path} (its paths are relative to the RELION project directory: "
                               "run unpicker_eval.py there)")
        return Plan(jobs, fmt, out_fmt, list_out, listed, list(range(len(jobs))),
                    inputs=[(Path(source), "the input list")])
    if source and not detect_format(source, args.coord_format).per_micrograph:    # every micrograph in one file
        path = Path(source)
        fmt = detect_format(path, args.coord_format)
        out_fmt = star if args.output_format == "star" else fmt
        ext = next(e for e in fmt.extensions if path.name.lower().endswith(e)) if any(
            path.name.lower().endswith(e) for e in fmt.extensions) else path.suffix
        folder = job_dir if job_dir is not None else path.parent
        stem = path.name[: len(path.name) - len(ext)] if ext else path.name
        try:
            every = read_coordinates(path, opts)
        except StarError as e:
            raise CommandError(str(e)) from None
        jobs, combined, combined_rejected, list_out = [], None, None, None
        if out_fmt is fmt:
            combined = folder / f"{stem}_unpick{ext}"
            combined_rejected = folder / f"{stem}_rejected{ext}" if args.write_rejected else None
        else:
            list_out = folder / f"{stem}_unpick.star"
        suffix = args.output_root or "_unpick.star"
        for picks in every:
            out = combined or folder / f"{picks.micrograph}{suffix}"
            rejected = combined_rejected if combined else (
                folder / f"{picks.micrograph}{args.write_rejected}" if args.write_rejected else None)
            jobs.append(UnpickJob(picks.micrograph, path, mrc(picks.micrograph, picks.micrograph_path), out,
                                  rejected, (lambda p=picks: p)))
        return Plan(jobs, fmt, out_fmt, list_out, combined=combined, combined_rejected=combined_rejected)
    if source:          # one micrograph's file
        path = Path(source)
        fmt = detect_format(path, args.coord_format)
        folder, found = path.parent, [(_root(path, args.eval_root), path)]
    else:
        folder, suffix_in = split_suffix(args.eval_root, Path("."))
        found = find_by_suffix(folder, suffix_in)
        fmt = detect_format(found[0][1], args.coord_format) if found else star
    out_fmt = star if args.output_format == "star" else fmt
    suffix = args.output_root or default_output_suffix(Path(args.eval_root).name, out_fmt)
    out_folder = job_dir if job_dir is not None else folder
    jobs = [UnpickJob(name, p, mrc(name), out_folder / (name + suffix),
                      out_folder / (name + args.write_rejected) if args.write_rejected else None,
                      _one_file_loader(p, name, opts)) for name, p in found]
    return Plan(jobs, fmt, out_fmt)


def _one_file_loader(path: Path, name: str, opts: CoordinateOptions):
    def load() -> MicrographPicks:
        (picks,) = read_coordinates(path, opts, name)
        return picks
    return load


def _up_to_date(job: UnpickJob, inputs_mtime: float, settings: str) -> bool:
    """Whether a micrograph's outputs exist, are newer than its inputs and the
    model, and were written with these settings."""
    try:
        outputs = [job.output_path] + ([job.rejected_path] if job.rejected_path else [])
        newer = min(p.stat().st_mtime for p in outputs) > max(
            job.picks_path.stat().st_mtime, job.mrc_path.stat().st_mtime, inputs_mtime)
    except OSError:
        return False
    return newer and all(_written_with(p) == settings for p in outputs)


def _written_with(path: Path) -> str | None:
    """The settings an unpicked output says it was written with."""
    marker = read_marker(path) if path.suffix in (".star", ".cbox") else None
    marker = marker or read_sidecar(path)
    return marker[1] if marker and marker[0] in (UNPICKED, REJECTED) else None


def _run_settings(args: argparse.Namespace, model: Path, threshold: float, tta: int, settings) -> str:
    """What an output records it was unpicked with: what changes its scores
    or what is kept (a re-run with other settings redoes the micrograph)."""
    digest = hashlib.sha1(f"{model.read_bytes()!r}|{settings}".encode()).hexdigest()[:12]
    return (f"model {model.name} [{digest}], threshold {threshold:g}, tta {tta}, precision {args.precision}"
            + (", forced preprocessing" if args.force else "") + (", every pick kept" if args.keep_all else ""))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = argv
    return run_command(lambda state: _main(args, state))


def _main(args: argparse.Namespace, state: RunState) -> int:
    out = sys.stdout
    job_dir = Path(args.o) if args.o else None
    if job_dir is not None:
        if not args.in_coords:
            raise CommandError("--o (a RELION job) needs --in_coords, the list of coordinate files to unpick")
        state.job_dir = job_dir
        start(job_dir)
    if args.j:
        args.num_cores = args.j
    if args.histogram is None:
        args.histogram = str((job_dir or Path(".")) / "unpick_scores.png")
    report_dir = None if args.no_report else Path(args.report or (job_dir or Path(".")) / "unpick_report")
    try:
        shard = parse_shard(args.shard) if args.shard else shard_from_environment() or Shard()
    except ValueError as e:
        raise CommandError(f"--shard: {e}") from None
    opts = coordinate_options(args)
    try:
        info, networks = read_model_info(args.train_output)
    except ModelFileError as e:
        raise CommandError(str(e)) from None
    mic_paths, mics_apix, ctfs = {}, None, None
    try:
        if args.in_mics:
            mic_paths = read_micrograph_paths(args.in_mics)
            mics_apix = read_pixel_size(args.in_mics)
            if info.preprocessing.ctf_flip:
                ctfs = read_ctf_star(args.in_mics)[0]
        if args.ctf_star:
            ctfs = read_ctf_star(args.ctf_star)[0]
        settings, conflicts = _settings(args, info.preprocessing, mics_apix)
    except (StarError, ValueError) as e:
        raise CommandError(str(e)) from None
    if conflicts and not args.force:
        raise CommandError("these options contradict the model's training and would invalidate it:\n  "
                           + "\n  ".join(conflicts) + "\nLeave them out to use the model's values, or add --force.")
    threshold = info.threshold if args.threshold is None else args.threshold
    tta = args.tta or int(info.extra.get("tta", 1))
    try:
        plan = _plan(args, opts, job_dir, mic_paths)
    except StarError as e:
        raise CommandError(str(e)) from None
    jobs = plan.jobs
    if not jobs:
        source = args.in_coords or args.eval_file
        raise CommandError(f"no *{args.eval_root} files in {Path('.').resolve()}" if not source
                           else f"{source}: no micrographs in it")
    if plan.listed is not None:
        print(f"Coordinate list {args.in_coords or args.eval_file}: {len(jobs)} micrographs", file=out)
    if not shard.whole and plan.combined is not None:
        raise CommandError("--shard splits runs that write one output file per micrograph; this input is one file "
                           "of every micrograph (give --output_format star to write one STAR file per micrograph)")

    model = model_base(args.train_output)
    model_files = [model] + [weights for _, weights in networks]
    run_settings = _run_settings(args, model, threshold, tta, settings)
    report = ReportContext(report_dir, info, settings, threshold, time.time(), args.report_micrographs)
    if args.gather:
        return _gather(args, plan, shard, job_dir, threshold, run_settings, out, report)
    mine = shard.take(jobs)
    outputs = _outputs(plan, mine, args, shard, report_dir)
    inputs = plan.inputs + [(j.picks_path, f"the coordinate file of {j.name}") for j in jobs]
    inputs += [(j.mrc_path, f"the micrograph {j.name}") for j in jobs]
    inputs += [(f, "the model") for f in model_files]
    inputs += [(Path(f), "an input table") for f in (args.ctf_star, args.in_mics) if f]
    prepare_outputs(outputs, inputs, overwrite=args.overwrite)
    if job_dir is not None:                # the outputs mirror the input's folders
        for folder in sorted({o.path.parent for o in outputs}):
            folder.mkdir(parents=True, exist_ok=True)

    inputs_mtime = max(f.stat().st_mtime for f in model_files)
    if plan.combined is not None:       # one output for every micrograph: all of them, or none
        done = not args.overwrite and all(_up_to_date(j, inputs_mtime, run_settings) for j in jobs)
        todo = [] if done else jobs
    else:
        todo = [j for j in mine if args.overwrite or not _up_to_date(j, inputs_mtime, run_settings)]
    if len(todo) < len(mine):
        print(f"{len(mine) - len(todo)} micrographs already unpicked with these settings (outputs newer than "
              "inputs and model); --overwrite redoes them", file=out)
    if not shard.whole:
        print(f"Part {shard} of the micrographs: {len(mine)} of {len(jobs)}", file=out)
    print(f"Model {args.train_output}: network {info.network}, boxsize {settings.boxsize_px} -> "
          f"{settings.resized_px}, {settings.apix:g} Å/px, threshold {threshold:g}"
          + (" (every pick kept, scored)" if args.keep_all else ""), file=out)

    classify = _classifier(args, networks, settings, tta, out)
    print("Initialized!", file=out)
    print("Calculating unpicks...", file=out)

    combined_results: list = []

    collector = None
    if report_dir is not None:
        from ..report.unpicking import Collector, sample_names

        collector = Collector(report_dir, threshold, sample_names([j.name for j in jobs], args.report_micrographs),
                              settings.boxsize_px)

    def write(job: UnpickJob, picks: MicrographPicks, prob: np.ndarray) -> np.ndarray:
        keep = np.ones(len(prob), bool) if args.keep_all else written_scores(prob) >= threshold
        if plan.combined is not None:
            combined_results.append((picks, keep, prob))
            return keep
        _write_one(plan.output_format, job.output_path, picks, keep, prob, opts, UNPICKED, run_settings)
        if job.rejected_path is not None:
            _write_one(plan.output_format, job.rejected_path, picks, ~keep, prob, opts, REJECTED, run_settings)
        return keep

    def done(summary: UnpickSummary) -> None:
        state.done = f"{summary.micrographs} of {len(todo)} micrographs unpicked, each output complete"
        state.resume = ("run the same command again (RELION: Continue) to unpick the others"
                        if plan.combined is None else "run the same command again")
        check_abort(job_dir)

    try:
        check_abort(job_dir)
        summary = unpick(todo, settings, classify, write, args.num_cores, ctfs, out, progress=show_progress(args),
                         fill_nonfinite=args.fill_nonfinite, on_done=done,
                         image_for=collector.view if collector else None,
                         on_scored=(lambda job, picks, boxes, prob: collector.scored(job.name, picks.xy, boxes, prob))
                         if collector else None)
        if plan.combined is not None and todo:
            plan.output_format.write(plan.combined, combined_results, opts, UNPICKED, run_settings)
            if plan.combined_rejected is not None:
                plan.output_format.write(plan.combined_rejected, [(p, ~k, s) for p, k, s in combined_results], opts,
                                         REJECTED, run_settings)
            print(f"Unpicked picks of every micrograph: {plan.combined}", file=out)
    except BaseException:
        if collector is not None:
            collector.discard()
        raise
    kept_at_threshold = sum(int((written_scores(s) >= threshold).sum()) for s in summary.scores)
    pct = 100.0 * kept_at_threshold / summary.picks_in if summary.picks_in else 0.0
    rate = summary.micrographs / summary.seconds if summary.seconds else 0.0
    print(f"Summary: {summary.micrographs} micrographs, {summary.picks_in} picks in, {kept_at_threshold} kept "
          f"({pct:.1f}%)" + (" at the threshold, every pick written" if args.keep_all else "")
          + f", {summary.seconds:.1f} s, {rate:.2f} micrographs/s", file=out)
    records = {name: _record(s, k) for name, s, k in zip(summary.names, summary.scores, summary.kept)}
    records.update({name: None for name in summary.failed})
    unchanged = [j.name for j in mine if j.name not in records]    # up to date: not unpicked again
    if not shard.whole:
        shard_dir = (job_dir or Path(".")) / SHARDS_FOLDER
        shard_dir.mkdir(exist_ok=True)
        before = _part_record(shard_dir / f"part-{shard.index}-of-{shard.count}.json", run_settings)
        records.update({name: before.get(name, UNCHANGED) for name in unchanged})
        if collector is not None:
            from ..report.unpicking import save_galleries

            save_galleries(collector.galleries(), shard_dir / f"part-{shard.index}-of-{shard.count}.gallery.npz")
        atomic_write_text(shard_dir / f"part-{shard.index}-of-{shard.count}.json",
                          json.dumps({"settings": run_settings, "micrographs": records}) + "\n")
        finished = sorted(shard_dir.glob(f"part-*-of-{shard.count}.json"))
        if len(finished) < shard.count:
            print(f"Part {shard} done ({len(finished)} of {shard.count} parts); the last part writes the list",
                  file=out)
            return 1 if summary.failed else 0
        return _gather(args, plan, shard, job_dir, threshold, run_settings, out, report)
    records.update({name: UNCHANGED for name in unchanged})
    if collector:
        report.galleries, report.drawn = collector.galleries(), collector.drawn()
    _finish_run(args, plan, records, job_dir, threshold, out, report)
    return _failed(summary.failed)


UNCHANGED: dict = {"unchanged": True}   # the record of a micrograph already unpicked with these settings


def _part_record(path: Path, run_settings: str) -> dict:
    """The micrographs' records of an earlier run of this part with the same
    settings (none: an empty dict)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc.get("micrographs", {}) if doc.get("settings") == run_settings else {}


def _scored(records: dict) -> dict:
    """The records with scores: not the failed micrographs (None) nor those
    unchanged since an earlier run (their scores are in their outputs)."""
    return {name: r for name, r in records.items() if r and "scores" in r}


def _record(scores: np.ndarray, keep: np.ndarray) -> dict:
    """What a part records of a micrograph for the summary: its scores as
    written (4 decimals) and which were kept."""
    return {"scores": [float(s) for s in score_text(scores)], "kept": [bool(k) for k in keep]}


def _failed(failed: list[str]) -> int:
    if failed:
        print(f"{len(failed)} micrographs skipped because of errors: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _gather(args, plan: Plan, shard: Shard, job_dir: Path | None, threshold: float, run_settings: str, out,
            report: ReportContext) -> int:
    """The list and summary of a sharded run, from every part's record."""
    shard_dir = (job_dir or Path(".")) / SHARDS_FOLDER
    parts = sorted(shard_dir.glob("part-*-of-*.json")) if shard.whole else sorted(
        shard_dir.glob(f"part-*-of-{shard.count}.json"))
    if not parts:
        raise CommandError(f"--gather: no parts' records in {shard_dir}")
    records: dict = {}
    for part in parts:
        doc = json.loads(part.read_text())
        if doc.get("settings") != run_settings:
            raise CommandError(f"{part}: this part was unpicked with other settings ({doc.get('settings')}); "
                               "unpick every part with the same options")
        records.update(doc["micrographs"])
    missing = [j.name for j in plan.jobs if j.name not in records]
    if missing:
        raise CommandError(f"--gather: {len(missing)} micrographs are in no part's record yet, e.g. {missing[0]}; "
                           "run the missing parts first")
    print(f"Gathered {len(parts)} parts: {len(records)} micrographs", file=out)
    if report.folder is not None:
        from ..report.unpicking import load_galleries, merge_galleries

        report.galleries = merge_galleries([load_galleries(g) for p in parts
                                            if (g := p.with_name(p.name[:-len(".json")] + ".gallery.npz")).exists()],
                                           threshold)
    _finish_run(args, plan, records, job_dir, threshold, out, report)
    return _failed([name for name, r in records.items() if r is None])


def _finish_run(args, plan: Plan, records: dict, job_dir: Path | None, threshold: float, out,
                report: ReportContext) -> None:
    """After the micrographs: the histogram, the list of outputs, the report,
    and (a RELION job) the node and exit files."""
    scored = _scored(records)
    scores = [np.array(r["scores"]) for r in scored.values()]
    if scores and args.histogram:
        plot_score_histogram(np.concatenate(scores), threshold, args.histogram)
        print(f"Score histogram: {args.histogram}", file=out)
    if args.suggest:
        report.suggestions = _suggestions(scored, threshold, args.suggest, report.info)
        print(f"Micrographs to clean next (--suggest {args.suggest}), most informative first:", file=out)
        for line in format_suggestions(report.suggestions) or ["  none: every micrograph was in the training set"]:
            print(line, file=out)
    if plan.list_out is not None:   # the kept picks' files, for RELION's Extract job
        done = [i for i, j in enumerate(plan.jobs) if j.name in records and records[j.name] is not None]
        coordinates = [str(plan.jobs[i].output_path) for i in done]
        if plan.listed is not None:
            text = coordinate_list_text(plan.listed, [plan.list_rows[i] for i in done], coordinates)
        else:
            text = new_coordinate_list_text([str(plan.jobs[i].mrc_path) for i in done], coordinates)
        atomic_write_text(plan.list_out, with_marker(text, UNPICKED_LIST))
        print(f"Coordinate list of the unpicked files ({len(done)} micrographs): {plan.list_out}", file=out)
    if report.folder is not None and scored:
        path = _write_report(args, plan, {n: r for n, r in records.items() if r is None or n in scored}, report,
                             len(records) - len(scored) - sum(r is None for r in records.values()))
        print(f"Report: {path} (open it in a browser)", file=out)
    if job_dir is not None:
        write_nodes(job_dir, [(plan.list_out, "coords")], relion_version())
        finish(job_dir, SUCCESS)


def _suggestions(records: dict, threshold: float, n: int, info) -> list[Suggestion]:
    """``--suggest``: from the written scores, leaving out the model's training micrographs."""
    training = info.extra.get("training", {})
    n_p, n_n = training.get("particles"), training.get("non_particles")
    share = n_p / (n_p + n_n) if n_p is not None and n_n is not None and n_p + n_n else None
    scores = {name: r["scores"] for name, r in records.items() if r}
    return suggest_micrographs(scores, threshold, n, training.get("micrographs", []), share)


@dataclass
class ReportContext:
    """What the report says of the run, and where it goes (None: no report)."""

    folder: Path | None
    info: object
    settings: object
    threshold: float
    started: float
    micrographs: int
    galleries: dict = field(default_factory=dict)
    drawn: dict = field(default_factory=dict)     # the overlays drawn during the run (Collector.drawn)
    suggestions: list = field(default_factory=list)


def _write_report(args, plan: Plan, records: dict, report: ReportContext, unchanged: int = 0) -> Path:
    from ..report.unpicking import (choose_overlays, draw_overlays, flag_unusual, sample_names, threshold_command,
                                    write_report)

    order = [j.name for j in plan.jobs if j.name in records]
    flags = flag_unusual(records, report.threshold)
    chosen = choose_overlays(order, records, flags, sample_names([j.name for j in plan.jobs], report.micrographs),
                             report.micrographs)
    views, xy = draw_overlays(report.folder, chosen, {j.name: j for j in plan.jobs}, report.settings.boxsize_px,
                              args.fill_nonfinite, args.num_cores, report.drawn)
    s = report.settings
    filters = ", ".join(f for f in (f"lowpass {s.lowpass_A:g} Å" if s.lowpass_A else "",
                                    f"highpass {s.highpass_A:g} Å" if s.highpass_A else "",
                                    f"Gaussian {s.gaussian_sigma_px:g} px" if s.gaussian_sigma_px else "",
                                    f"sigma contrast {s.sigma_contrast:g}" if s.sigma_contrast else "",
                                    "CTF phase flip" if s.ctf_flip else "") if f) or "none"
    scores = [np.array(r["scores"]) for r in records.values() if r]
    n_picks = sum(len(x) for x in scores)
    n_kept = sum(int((x >= report.threshold).sum()) for x in scores)
    rule = report.info.extra.get("threshold_rule", "")
    run = {"Picks from": args.in_coords or args.eval_file or args.eval_root,
           "Model": f"{args.train_output} ({report.info.network})",
           "Preprocessing": f"box {s.boxsize_px} px resized to {s.resized_px} px, {s.apix:g} Å/px; filters: {filters}",
           "Threshold": f"{report.threshold:.3f} (" + ("--threshold" if args.threshold is not None else
                                                     f"the model's{': ' + rule if rule else ''}") + ")"
           + ("; every pick written (--keep_all)" if args.keep_all else ""),
           "Micrographs": f"{len(scores)} unpicked" + (f", {len(records) - len(scores)} could not be read"
                                                       if len(records) > len(scores) else "")
           + (f"; {unchanged} unpicked earlier with these settings (not in this report)" if unchanged else ""),
           "Picks in / kept / removed": f"{n_picks} / {n_kept} / {n_picks - n_kept}",
           "When": time.strftime("%Y-%m-%d %H:%M", time.localtime(report.started))
           + f" ({time.time() - report.started:.0f} s)"}
    if report.suggestions:
        run["Clean next (--suggest)"] = ", ".join(f"{g.name} ({g.picks} picks)" for g in report.suggestions)
    return write_report(report.folder, run, records, order, report.threshold, views, xy, report.galleries,
                        s.boxsize_px, threshold_command(sys.argv[1:] if args.argv is None else args.argv,
                                                        args.keep_all))


def _outputs(plan: Plan, jobs: list[UnpickJob], args, shard: Shard, report_dir: Path | None) -> list[Output]:
    kind = "star" if plan.output_format.name in ("relion", "cbox") else "other"
    outputs = []
    if plan.combined is not None:
        outputs.append(Output(plan.combined, "the unpicked picks of every micrograph", UNPICKED, kind))
        if plan.combined_rejected is not None:
            outputs.append(Output(plan.combined_rejected, "the removed picks of every micrograph", REJECTED, kind))
    else:
        outputs += [Output(j.output_path, f"the unpicked picks of {j.name}", UNPICKED, kind) for j in jobs]
        outputs += [Output(j.rejected_path, f"the removed picks of {j.name}", REJECTED, kind)
                    for j in jobs if j.rejected_path]
    if plan.list_out is not None:
        outputs.append(Output(plan.list_out, "the list of unpicked files", UNPICKED_LIST))
    if args.histogram:
        outputs.append(Output(Path(args.histogram), "the score histogram", PLOT))
    if report_dir is not None:
        outputs.append(Output(report_dir / "index.html", "the report", REPORT))
    return outputs


def _write_one(fmt: CoordinateFormat, path: Path, picks: MicrographPicks, keep: np.ndarray, prob: np.ndarray,
               opts: CoordinateOptions, role: str, settings: str) -> None:
    """One micrograph's output: in its own format, or as a RELION table
    converted from another picker's (centres in micrograph pixels)."""
    if fmt.name == "relion" and picks.format != "relion":
        atomic_write_text(path, with_marker(_star_from(picks, keep, prob), role, settings))
    else:
        fmt.write(path, [(picks, keep, prob)], opts, role, settings)


def _star_from(picks: MicrographPicks, keep: np.ndarray, prob: np.ndarray) -> str:
    """Another picker's picks as a RELION coordinate table, with the scored columns."""
    from ..formats.star import parse_star

    fom = picks.fom if picks.fom is not None else np.full(len(picks), np.nan)
    rows = [[f"{x:.4f}", f"{y:.4f}", f"{f:.6g}" if np.isfinite(f) else "-999"] for (x, y), f in zip(picks.xy, fom)]
    star = parse_star(format_loop_block("coordinates", ["rlnCoordinateX", "rlnCoordinateY",
                                                        "rlnAutopickFigureOfMerit"], rows, "version 30001"))
    from ..formats.star import edit_loop

    block = star.blocks[0]
    return edit_loop(star, block, keep, scored_columns(block, keep, prob))


def _classifier(args, networks, settings, tta: int, out):
    """The ensemble's P(particle) of boxes, on the Keras back-end."""
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
        net = build_network(member.network, settings.resized_px)
        try:
            net.load_weights(weights)
        except Exception as e:     # h5py and Keras raise many kinds for a damaged file
            raise CommandError(f"{weights}: cannot be read as the {member.network} network's weights "
                               f"({type(e).__name__}: {e}); is the file complete?") from None
        models.append((inference_network(net, precision), member.logit_shift, member_views(tta, i, len(networks))))
    return lambda boxes: ensemble_probability(models, boxes)
