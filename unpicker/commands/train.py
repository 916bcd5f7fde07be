"""unpicker_train.py: train the network on the training files in the micrographs folder."""
from __future__ import annotations

import os

# Micrographs are prepared in worker threads (--num_cores); nested OpenBLAS
# threads in each would oversubscribe the cores (measured: bench/bench_eval.py).
# Set before NumPy is imported; a value the user exported wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from .. import __version__
from ..files import find_by_suffix
from ..formats.mrc import MicrographError, read_pixel_size, read_shape, resolve_apix
from ..formats.relion import coordinate_list_given, read_ctf_star
from ..formats.relion import read_pixel_size as read_table_pixel_size
from ..formats.star import StarError
from ..guard import MODEL, PLOT, REPORT, TRAINING_LOG, WEIGHTS, Output
from ..images.augment import GROUP_SIZES, default_shift_px
from ..images.boxes import box_too_large
from ..images.preprocess import Preprocessing
from ..labels import read_training_file
from ..networks import DEFAULT_NETWORK, NETWORKS, network_names
from ..networks.backend import PRECISIONS
from ..networks.model_file import weights_path
from ..training.plan import TrainConfig, plan_training, train_epochs
from ..relion_job import SUCCESS, finish, relion_version, start, write_nodes
from .common import (CommandError, RunState, add_coordinate_arguments, add_preprocessing_arguments,
                     add_relion_job_arguments, coordinate_options, listed_micrographs, number, prepare_outputs,
                     run_command, show_progress)

# Self-training reads at most this many uncleaned micrographs (chosen at
# random), so that it adds a bounded time to a training however many there are.
MAX_UNLABELLED_MICROGRAPHS = 32

if TYPE_CHECKING:   # annotations only; the command imports these once the data are read
    from ..training.dataset import TrainingSet
    from ..training.loop import TrainResult


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="unpicker_train.py",
                                description="Train the unpicker network on labelled training files "
                                "(run in the micrographs directory).")
    p.add_argument("--train_root", default="_autopick_train.star",
                   help="File suffix for star files with particle training data (default _autopick_train.star); "
                   "or a RELION 4/5 list of training files, as trainingSetFromStarFiles.py writes for a list "
                   "(AutoPick/job006/autopick_train.star; run in the project directory)")
    p.add_argument("--train_output", default=None,
                   help="File to save training data (default model.ckpt; as a RELION job DIR/unpickModel.out)")
    add_preprocessing_arguments(p, with_defaults=True)
    p.add_argument("--num_epochs", type=number(int, 1), default=None,
                   help="Number of epochs for training (default 25 for resnet+seed; 15, the original's, for one "
                   "network)")
    p.add_argument("--network", choices=[DEFAULT_NETWORK, *NETWORKS], default=DEFAULT_NETWORK,
                   help="resnet+seed (default): a small residual CNN and the original network trained side "
                   "by side, their scores averaged (each classifies half of the test-time views); resnet: "
                   "the residual CNN alone; seed: the original emUnpicker network alone")
    p.add_argument("--max_steps", type=number(int, 0), default=None,
                   help="train for at most this many steps (default: 2500 for resnet+seed, which keeps "
                   "large training sets within about 10 minutes on 2 CPU cores; no cap for one network; "
                   "0: no cap)")
    p.add_argument("--validation_fraction", type=number(float, 0, 1, below=True), default=0.2,
                   help="fraction of the training micrographs held out for validation (default 0.2)")
    p.add_argument("--no_refit", action="store_true",
                   help="keep the validated model. By default, after training, the same networks are trained "
                   "afresh on every training micrograph, the validation micrographs included, and stored with "
                   "the threshold the validation set; not when the validation says to keep every pick or "
                   "training stopped at the step cap (see docs/design.md)")
    p.add_argument("--seed", type=int, default=66478,
                   help="random seed; makes CPU runs repeatable on the same CPU model (default 66478)")
    p.add_argument("--no_report", action="store_true",
                   help="no training report (by default <model>_report/index.html, opened in a browser)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="the networks' arithmetic. auto (default): bfloat16 (with float32 weights) when "
                   "TensorFlow trains on a CPU with bfloat16 instructions (AVX512_BF16 or AMX), else float32")
    p.add_argument("--preprocessing", choices=["choose", "given"], default="choose",
                   help="choose (default): where no --lowpass or --gaussian_sigma is given, train briefly without a "
                   "low-pass and with two (a cutoff of 4 and of 8 pixels of the network's box), and keep the one "
                   "whose validation ROC AUC is highest (see docs/design.md); given: the filters as given, no "
                   "short trainings")
    p.add_argument("--self_training", action="store_true",
                   help="the refit also learns from the picks of micrographs no one cleaned (--unlabelled) where the "
                   "validated model is sure of them (see docs/design.md; not the default: it gained no more than "
                   "the seeds' spread on the benchmarks)")
    p.add_argument("--unlabelled", default=None, metavar="PICKS",
                   help="with --self_training, the uncleaned micrographs' picks: a file suffix in the micrographs "
                   "folder (default _autopick.star, every autopick file; EMAN/.box names a folder), a RELION 4/5 "
                   "list of coordinate files (as a RELION job, default --in_coords) or a file of every micrograph's "
                   f"picks; at most {MAX_UNLABELLED_MICROGRAPHS} micrographs, chosen at random")
    add_relion_job_arguments(p, "the autopicks: a RELION 4/5 list of coordinate files (AutoPick/jobNNN/autopick.star); "
                             "with --cleaned, the training set is built from them first")
    p.add_argument("--cleaned", default=None, metavar="CLEANED",
                   help="as a RELION job: a ManualPick job's list of the cleaned picks, or the suffix of cleaned "
                   "copies beside the autopick files (_autopick_correct.star)")
    add_coordinate_arguments(p)
    # Knobs for experiments (bench/accuracy.py --train_args), not for users: their
    # defaults are the measured best, and they stay out of --help.
    hidden = argparse.SUPPRESS
    p.add_argument("--batch_size", type=number(int, 1), default=None, help=hidden)
    p.add_argument("--learning_rate", type=number(float, 0, above=True), default=None, help=hidden)
    p.add_argument("--augmentation", choices=list(GROUP_SIZES), default="d8", help=hidden)
    p.add_argument("--shift_px", type=number(int, 0), default=None, help=hidden)
    p.add_argument("--tta", type=int, choices=[1, 4, 8], default=4, help=hidden)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(lambda state: _main(args, state))


def _model_outputs(model: Path, networks: list[str], steps: list[int], report: bool) -> list[Output]:
    """Every file a training into ``model`` writes: the model and its
    weights, the checkpoints ``model-STEP`` and theirs, the log and the plot."""
    outputs = []
    for name, what in [(model, "the model")] + [(Path(f"{model}-{s}"), f"the checkpoint at step {s}") for s in steps]:
        outputs.append(Output(name, what, MODEL))
        for net in networks:
            outputs.append(Output(weights_path(name, net if len(networks) > 1 else None), f"{what}'s weights", WEIGHTS))
    outputs += [Output(Path(f"{model}.log.csv"), "the training log", TRAINING_LOG),
                Output(Path(f"{model}.png"), "the training plot", PLOT)]
    return outputs + ([Output(Path(f"{model}_report") / "index.html", "the training report", REPORT)] if report else [])


def _job_setup(args: argparse.Namespace, state: RunState) -> Path:
    """As a RELION External job: build the training set under ``--o`` (as
    trainingSetFromStarFiles.py does) and train from its list, into
    ``--o``/unpickModel.out (or ``--train_output``, a name in ``--o``)."""
    from .training_set import build_training_set, plan_training_set

    if not (args.in_coords and args.cleaned):
        raise CommandError("--o (a RELION job) needs --in_coords (the autopicks' list) and --cleaned (the cleaned "
                           "picks: a ManualPick job's list, or the suffix of cleaned copies)")
    job_dir = Path(args.o)
    state.job_dir = job_dir
    model = job_dir / (args.train_output or "unpickModel.out")
    if args.train_output and Path(args.train_output).parent != Path("."):
        raise CommandError(f"--train_output {args.train_output}: as a RELION job the model goes in {job_dir} "
                           "(give a file name, or leave it out)")
    start(job_dir)
    plan = plan_training_set(args.in_coords, args.cleaned, "_train.star", Path("."), coordinate_options(args),
                             job_dir)
    if build_training_set(plan, 1.0, False, False, state) and not plan.list_out.exists():
        raise CommandError("no training file could be written")
    args.train_root, args.train_output = str(plan.list_out), str(model)
    if args.in_mics and not args.image_dir_given:
        args.micrograph_table = args.in_mics
    return job_dir


def _main(args: argparse.Namespace, state: RunState) -> int:
    out = sys.stdout
    args.image_dir_given = args.image_dir != os.curdir
    args.micrograph_table = None
    if args.j:
        args.num_cores = args.j
    job_dir = _job_setup(args, state) if args.o else None
    if args.train_output is None:
        args.train_output = "model.ckpt"
    shift_px = default_shift_px(args.resized_box) if args.shift_px is None else args.shift_px
    if not 0 <= shift_px < args.resized_box / 2:
        raise CommandError(f"--shift_px must be at least 0 and under half the resized box ({args.resized_box} px), "
                           f"got {shift_px}")
    if args.resized_box > args.boxsize:
        raise CommandError(f"--resized_box {args.resized_box} is larger than --boxsize {args.boxsize}: the boxes would "
                           "be enlarged, which adds no detail (give a smaller --resized_box)")
    star_dir = Path(".")
    image_dir = Path(args.image_dir)
    try:
        listed = coordinate_list_given(args.train_root)
    except StarError as e:
        raise CommandError(str(e)) from None
    if listed is not None:   # RELION 4/5: a list of training files (trainingSetFromStarFiles.py writes it)
        mrcs = listed_micrographs(listed, args.image_dir)
        found = [(m.stem, Path(c), m) for m, c in zip(mrcs, listed.coordinates)]
    else:
        found = [(name, path, image_dir / (name + ".mrc")) for name, path in find_by_suffix(star_dir, args.train_root)]
    if not found:
        raise CommandError(f"no *{args.train_root} files in {star_dir.resolve()}" if listed is None
                           else f"{args.train_root}: the list is empty")

    items, skipped = [], 0
    for name, star_path, mrc_path in found:
        if not mrc_path.exists():
            print(f"Skipped {star_path.name}: micrograph {mrc_path.name} not found in {mrc_path.parent.resolve()}"
                  " (--image_dir names the micrographs folder)", file=sys.stderr)
            skipped += 1
            continue
        try:
            items.append((name, mrc_path, read_training_file(star_path)))
        except StarError as e:
            print(f"Skipped {star_path.name}: {e}", file=sys.stderr)
            skipped += 1
    if not items:
        raise CommandError("no usable training micrographs")

    try:
        ctfs, star_apix = (read_ctf_star(args.ctf_star) if args.ctf_star else ({}, None))
        if star_apix is None and args.micrograph_table:
            star_apix = read_table_pixel_size(args.micrograph_table)
        header_apix = read_pixel_size(items[0][1])
        too_large = box_too_large(read_shape(items[0][1]), args.boxsize, str(items[0][1]))
    except (StarError, MicrographError) as e:
        raise CommandError(str(e)) from None
    if too_large:
        raise CommandError(too_large)
    needs_A = bool(args.lowpass or args.highpass or args.ctf_star)
    apix, source, warning = resolve_apix(args.apix, header_apix, star_apix, needs_A)
    print(f"Pixel size: {apix:g} Å/px (from {source})", file=out)
    if warning:
        print(f"Warning: {warning}", file=sys.stderr)
    try:
        settings = Preprocessing(boxsize_px=args.boxsize, resized_px=args.resized_box, apix=apix,
                                 lowpass_A=args.lowpass, highpass_A=args.highpass,
                                 gaussian_sigma_px=args.gaussian_sigma, sigma_contrast=args.sigma_contrast,
                                 ctf_flip=bool(args.ctf_star))
    except ValueError as e:
        raise CommandError(str(e)) from None

    n_p = sum(int(p.is_particle.sum()) for _, _, p in items)
    n_n = sum(int((~p.is_particle).sum()) for _, _, p in items)
    print(f"Training Particles: {n_p} Non-particles: {n_n} in training set", file=out)
    if n_p == 0 or n_n == 0:
        raise CommandError("the training set needs both particles (P) and non-particles (N)")

    from ..training.dataset import extract_training_set, split_by_micrograph

    try:
        ts = extract_training_set(items, settings, ctfs, args.num_cores, progress=show_progress(args),
                                  fill_nonfinite=args.fill_nonfinite)
    except (MicrographError, ValueError) as e:
        raise CommandError(str(e)) from None
    for warning in ts.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    val, val_names, note = split_by_micrograph(ts, args.validation_fraction, args.seed)
    pct = 100.0 * ts.is_particle[val].mean() if val.any() else 0.0
    print(f"Loaded training data, using {int(val.sum())} particles for validation - {pct:.1f}% particles",
          file=out)
    print(note, file=out)
    if (~val).sum() < 2:
        raise CommandError("fewer than two picks are left to train on besides the validation micrographs")

    config = TrainConfig(network=args.network, num_epochs=args.num_epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, augmentation=args.augmentation, seed=args.seed,
                         num_cores=args.num_cores, tta=args.tta, max_steps=args.max_steps, shift_px=shift_px)
    refit = bool(val_names) and not args.no_refit
    steps = plan_training(int((~val).sum()), config).steps
    model = Path(args.train_output)
    prepare_outputs(_model_outputs(model, network_names(args.network),
                                   list(range(0, steps, config.log_every)) + ([steps] if refit else []),
                                   not args.no_report),
                  [(p.source, f"the training file of {n}") for n, _, p in items]
                  + [(m, f"the micrograph {n}") for n, m, _ in items]
                  + [(Path(f), "an input list") for f in (args.train_root, args.ctf_star) if f and Path(f).is_file()])

    from ..networks.backend import import_keras, resolve_precision

    keras = import_keras()

    from ..training.loop import TrainingError, train

    precision = resolve_precision(args.precision)
    config.precision = precision
    print(f"Training arithmetic: {precision}" + (" (chosen for this CPU)" if args.precision == "auto" else ""),
          file=out)
    def checkpointed(path: Path) -> None:
        state.done = f"training stopped; the checkpoints up to {path} are complete"
        state.resume = (f"unpicker_eval.py --train_output {path} unpicks with the last one, or run the same command "
                        "again to train anew")

    try:
        choice = None
        if args.preprocessing == "choose":
            settings, ts, choice = _choose_preprocessing(items, settings, ts, val, val_names, config, ctfs, args, out)
        extra = {"training": {"micrographs": ts.names, "validation_micrographs": val_names,
                              "particles": n_p, "non_particles": n_n, "shift_px": shift_px,
                              "num_epochs": train_epochs(config), "precision": precision,
                              "preprocessing_choice": choice},
                 "versions": {"unpicker": __version__, "keras": keras.__version__,
                              "backend": keras.backend.backend(), "numpy": np.__version__}}
        result = train(ts.boxes[~val], ts.is_particle[~val], ts.boxes[val], ts.is_particle[val], settings, config,
                       model, extra, out=out, progress=show_progress(args),
                       held_out_micrographs=bool(val_names), final_checkpoint=refit, on_checkpoint=checkpointed)
        if not args.no_report:
            _report(model, ts, val, val_names, result, config, precision, out)
        if refit:
            state.done = f"the validated model {model}-{result.steps} is complete; the refit stopped"
            state.resume = f"unpicker_eval.py --train_output {model}-{result.steps} unpicks with it"
            _refit(ts, settings, config, args, extra, result, out, ctfs)
    except TrainingError as e:
        raise CommandError(str(e), status=1) from None
    if job_dir is not None:
        write_nodes(job_dir, [(model, "model"), (Path(args.train_root), "training")], relion_version())
        finish(job_dir, SUCCESS)
    return 1 if skipped else 0


def _choose_preprocessing(items: list, given: Preprocessing, ts: TrainingSet, val: np.ndarray, val_names: list[str],
                          config: TrainConfig, ctfs: dict, args: argparse.Namespace, out: TextIO
                          ) -> tuple[Preprocessing, TrainingSet, dict | None]:
    """--preprocessing choose: a short training (:func:`~unpicker.training.loop.trial`)
    with each of :func:`~unpicker.images.preprocess.lowpass_candidates` on the
    training micrographs, scored by ROC AUC on the validation micrographs;
    returns the settings with the highest (the first of equals), their
    training set, and each candidate's AUC (None: nothing to choose from)."""
    from ..images.preprocess import lowpass_candidates
    from ..training.dataset import extract_training_set
    from ..training.loop import trial
    from ..training.plan import trial_steps
    from ..training.threshold import roc_auc

    candidates = lowpass_candidates(given)
    if len(candidates) < 2:
        print("Preprocessing as given: a --lowpass or --gaussian_sigma was given (without them, training chooses "
              "among low-passes)", file=out)
        return given, ts, None
    if not val_names or len(set(ts.is_particle[val].tolist())) < 2:
        print("Preprocessing as given: choosing it needs validation micrographs with kept and removed picks",
              file=out)
        return given, ts, None
    steps = trial_steps(int((~val).sum()), config)
    print(f"Choosing the preprocessing: {steps} steps with each on the training micrographs, scored on the "
          "validation micrographs", file=out)
    scored = []
    for name, settings in candidates:
        boxes = ts if settings == given else extract_training_set(items, settings, ctfs, args.num_cores,
                                                                   progress=show_progress(args),
                                                                   fill_nonfinite=args.fill_nonfinite)
        prob = trial(boxes.boxes[~val], boxes.is_particle[~val], boxes.boxes[val], settings, config, steps)
        auc = roc_auc(prob, boxes.is_particle[val])
        print(f"  {name}: validation ROC AUC {auc:.3f}", file=out)
        scored.append((auc, name, settings, boxes))
    best = max(range(len(scored)), key=lambda i: (scored[i][0], -i))
    auc, name, settings, boxes = scored[best]
    print(f"Preprocessing chosen: {name}, the highest validation ROC AUC ({auc:.3f})", file=out)
    return settings, boxes, {"chosen": name, "validation_auc": {n: round(a, 4) for a, n, _, _ in scored},
                             "trial_steps": steps}


def _report(model: Path, ts: TrainingSet, val, val_names: list[str], result: TrainResult, config: TrainConfig,
            precision: str, out: TextIO) -> None:
    """The training report beside the model (:mod:`unpicker.report.training`)."""
    from ..report.training import write_training_report
    from ..training.threshold import best_f1, threshold_line

    facts = {"Model": str(model), "Networks": config.network, "Arithmetic": precision,
             "Training micrographs": ", ".join(n for n in ts.names if n not in val_names),
             "Validation micrographs": ", ".join(val_names) or "none (a random share of the picks)",
             "Picks": f"{int(ts.is_particle.sum())} kept (P), {int((~ts.is_particle).sum())} removed (N)",
             "Steps": f"{result.steps}" + (" (the step cap)" if result.capped else ""),
             "Default threshold": threshold_line(result.threshold, result.threshold_rule, best_f1(
                 result.validation_prob, ts.is_particle[val]) if val.any() else None).split(": ", 1)[1]}
    path = write_training_report(Path(f"{model}_report"), facts, result.history, ts.boxes[val], ts.is_particle[val],
                                 result.validation_prob, [ts.names[i] for i in ts.micrograph[val]], result.threshold)
    print(f"Training report: {path} (open it in a browser)", file=out)


def _refit(ts: TrainingSet, settings: Preprocessing, config: TrainConfig, args: argparse.Namespace,
           extra: dict, validated: TrainResult, out: TextIO, ctfs: dict) -> None:
    """Train the networks afresh on every training micrograph into
    ``--train_output``, with ``validated``'s threshold (see ``refit_skipped``),
    and on the unlabelled picks it is sure of (:func:`_pseudo_labelled`)."""
    from ..training.loop import refit, refit_skipped
    from ..training.plan import plan_training

    validated_name = f"{args.train_output}-{validated.steps}"
    why_not = refit_skipped(validated.threshold_rule, validated.capped)
    if why_not:
        print(f"No refit on the validation micrographs: {why_not}", file=out)
        return
    x, y, pseudo = ts.boxes, ts.is_particle, _pseudo_labelled(ts, settings, args, validated, ctfs, out)
    if pseudo is not None:
        x, y = np.concatenate([x, pseudo[0]]), np.concatenate([y, pseudo[1]])
    steps = plan_training(len(x), config).steps
    print(f"Refitting on all {len(ts.names)} training micrographs, the validation micrographs included"
          + (f", and {len(pseudo[1])} pseudo-labelled picks" if pseudo is not None else "")
          + f": {len(x)} boxes, {steps} steps; the default threshold stays {validated.threshold:.3f} "
          f"(the validated model is saved in file {validated_name}; --no_refit keeps it)", file=out)
    refit_extra = {**extra, "training": {**extra["training"], "refit": {
        "validated_model": Path(validated_name).name, "validation_error": validated.validation_error,
        "validated_steps": validated.steps,
        "pseudo_labels": {"particles": int(pseudo[1].sum()), "non_particles": int((~pseudo[1]).sum()),
                          "micrographs": pseudo[2]} if pseudo is not None else None}}}
    refit(x, y, settings, config, args.train_output, validated.threshold, validated.threshold_rule, refit_extra,
          out=out, progress=show_progress(args))
    print(f"Refitted model saved in file {args.train_output}", file=out)


def _pseudo_labelled(ts: TrainingSet, settings: Preprocessing, args: argparse.Namespace, validated: TrainResult,
                     ctfs: dict, out: TextIO) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """The boxes, labels and micrographs of the unlabelled picks the
    validated model is sure of (:mod:`unpicker.training.pseudo`); None where
    there are none, or without ``--self_training``."""
    from ..training.dataset import extract_training_set
    from ..training.pseudo import CONFIDENCE, choose_pseudo_labels

    if not args.self_training:
        return None
    items, source = _unlabelled_items(args, set(ts.names))
    if not items:
        print(f"Self-training: no picks of uncleaned micrographs found (--unlabelled {source})", file=out)
        return None
    try:
        unlabelled = extract_training_set(items, settings, ctfs, args.num_cores, progress=show_progress(args),
                                          fill_nonfinite=args.fill_nonfinite)
    except (MicrographError, ValueError) as e:
        print(f"Self-training skipped: {e}", file=out)
        return None
    prob = validated.score(unlabelled.boxes)
    idx, labels = choose_pseudo_labels(prob, int(ts.is_particle.sum()), int((~ts.is_particle).sum()))
    used = sorted({unlabelled.names[i] for i in unlabelled.micrograph[idx]})
    print(f"Self-training: the validated model scored {len(prob)} picks of {len(items)} uncleaned micrographs "
          f"(--unlabelled {source}); the {int(labels.sum())} it gives P >= {CONFIDENCE:g} and the "
          f"{int((~labels).sum())} it gives P <= {1 - CONFIDENCE:.2g} join the refit as P and N (the user's "
          "proportions, at most as many as the user's labels)", file=out)
    return (unlabelled.boxes[idx], labels, used) if len(idx) else None


def _unlabelled_items(args: argparse.Namespace, cleaned: set[str]) -> tuple[list, str]:
    """:func:`~unpicker.training.unlabelled.find_unlabelled` for ``--unlabelled``
    (by default every ``*_autopick.star``; as a RELION job, ``--in_coords``),
    at most :data:`MAX_UNLABELLED_MICROGRAPHS`; and the source as the log says it."""
    from ..training.unlabelled import find_unlabelled

    source = args.unlabelled or (args.in_coords if args.o else "_autopick.star")
    items, unreadable = find_unlabelled(source, args.image_dir, coordinate_options(args), cleaned,
                                        MAX_UNLABELLED_MICROGRAPHS, args.seed)
    for message in unreadable:
        print(f"Warning: self-training leaves out {message}", file=sys.stderr)
    return items, source
