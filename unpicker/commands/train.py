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
from ..formats.mrc import MicrographError, read_pixel_size, resolve_apix
from ..formats.relion import coordinate_list_given, read_ctf_star
from ..formats.star import StarError
from ..images.augment import GROUP_SIZES, default_shift_px
from ..images.preprocess import Preprocessing
from ..labels import read_training_file
from ..networks import DEFAULT_NETWORK, NETWORKS
from ..networks.backend import PRECISIONS
from ..training.plan import TrainConfig, train_epochs
from .common import add_preprocessing_arguments, listed_micrographs

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
    p.add_argument("--train_output", default="model.ckpt", help="File to save training data (default model.ckpt)")
    add_preprocessing_arguments(p, with_defaults=True)
    p.add_argument("--num_epochs", type=int, default=None,
                   help="Number of epochs for training (default 25 for resnet+seed; 15, the original's, for one "
                   "network)")
    p.add_argument("--network", choices=[DEFAULT_NETWORK, *NETWORKS], default=DEFAULT_NETWORK,
                   help="resnet+seed (default): a small residual CNN and the original network trained side "
                   "by side, their scores averaged (each classifies half of the test-time views); resnet: "
                   "the residual CNN alone; seed: the original emUnpicker network alone")
    p.add_argument("--max_steps", type=int, default=None,
                   help="train for at most this many steps (default: 2500 for resnet+seed, which keeps "
                   "large training sets within about 10 minutes on 2 CPU cores; no cap for one network; "
                   "0: no cap)")
    p.add_argument("--validation_fraction", type=float, default=0.2,
                   help="fraction of the training micrographs held out for validation (default 0.2)")
    p.add_argument("--no_refit", action="store_true",
                   help="keep the validated model. By default, after training, the same networks are trained "
                   "afresh on every training micrograph, the validation micrographs included, and stored with "
                   "the threshold the validation set; not when the validation says to keep every pick or "
                   "training stopped at the step cap (see docs/design.md)")
    p.add_argument("--seed", type=int, default=66478,
                   help="random seed; makes CPU runs repeatable on the same CPU model (default 66478)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="the networks' arithmetic. auto (default): bfloat16 (with float32 weights) when "
                   "TensorFlow trains on a CPU with bfloat16 instructions (AVX512_BF16 or AMX), else float32")
    # Knobs for experiments (bench/accuracy.py --train_args), not for users: their
    # defaults are the measured best, and they stay out of --help.
    hidden = argparse.SUPPRESS
    p.add_argument("--batch_size", type=int, default=None, help=hidden)
    p.add_argument("--learning_rate", type=float, default=None, help=hidden)
    p.add_argument("--augmentation", choices=list(GROUP_SIZES), default="d8", help=hidden)
    p.add_argument("--shift_px", type=int, default=None, help=hidden)
    p.add_argument("--tta", type=int, choices=[1, 4, 8], default=4, help=hidden)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = sys.stdout
    if args.num_epochs is not None and args.num_epochs < 1:
        print(f"Error: --num_epochs must be at least 1, got {args.num_epochs}", file=sys.stderr)
        return 2
    shift_px = default_shift_px(args.resized_box) if args.shift_px is None else args.shift_px
    if not 0 <= shift_px < args.resized_box / 2:
        print(f"Error: --shift_px must be at least 0 and under half the resized box ({args.resized_box} px), "
              f"got {shift_px}", file=sys.stderr)
        return 2
    star_dir = Path(".")
    image_dir = Path(args.image_dir)
    try:
        listed = coordinate_list_given(args.train_root)
    except StarError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    if listed is not None:   # RELION 4/5: a list of training files (trainingSetFromStarFiles.py writes it)
        mrcs = listed_micrographs(listed, args.image_dir)
        found = [(m.stem, Path(c), m) for m, c in zip(mrcs, listed.coordinates)]
    else:
        found = [(name, path, image_dir / (name + ".mrc")) for name, path in find_by_suffix(star_dir, args.train_root)]
    if not found:
        print(f"Error: no *{args.train_root} files in {star_dir.resolve()}" if listed is None
              else f"Error: {args.train_root}: the list is empty", file=sys.stderr)
        return 2

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
        print("Error: no usable training micrographs", file=sys.stderr)
        return 2

    try:
        ctfs, star_apix = (read_ctf_star(args.ctf_star) if args.ctf_star else ({}, None))
    except StarError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    try:
        header_apix = read_pixel_size(items[0][1])
    except MicrographError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
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
        print(f"Error: {e}", file=sys.stderr)
        return 2

    n_p = sum(int(p.is_particle.sum()) for _, _, p in items)
    n_n = sum(int((~p.is_particle).sum()) for _, _, p in items)
    print(f"Training Particles: {n_p} Non-particles: {n_n} in training set", file=out)
    if n_p == 0 or n_n == 0:
        print("Error: the training set needs both particles (P) and non-particles (N)", file=sys.stderr)
        return 2

    from ..training.dataset import extract_training_set, split_by_micrograph

    try:
        ts = extract_training_set(items, settings, ctfs, args.num_cores, progress=not args.no_progress)
    except (MicrographError, ValueError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    for warning in ts.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    val, val_names, note = split_by_micrograph(ts, args.validation_fraction, args.seed)
    pct = 100.0 * ts.is_particle[val].mean() if val.any() else 0.0
    print(f"Loaded training data, using {int(val.sum())} particles for validation - {pct:.1f}% particles",
          file=out)
    print(note, file=out)

    from ..networks.backend import import_keras, resolve_precision

    keras = import_keras()

    from ..training.loop import train

    precision = resolve_precision(args.precision)
    print(f"Training arithmetic: {precision}" + (" (chosen for this CPU)" if args.precision == "auto" else ""),
          file=out)
    config = TrainConfig(network=args.network, num_epochs=args.num_epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, augmentation=args.augmentation, seed=args.seed,
                         num_cores=args.num_cores, tta=args.tta, precision=precision,
                         max_steps=args.max_steps, shift_px=shift_px)
    extra = {"training": {"micrographs": ts.names, "validation_micrographs": val_names,
                          "particles": n_p, "non_particles": n_n, "shift_px": shift_px,
                          "num_epochs": train_epochs(config), "precision": precision},
             "versions": {"unpicker": __version__, "keras": keras.__version__,
                          "backend": keras.backend.backend(), "numpy": np.__version__}}
    refit = bool(val_names) and not args.no_refit
    result = train(ts.boxes[~val], ts.is_particle[~val], ts.boxes[val], ts.is_particle[val], settings, config,
                   args.train_output, extra, out=out, progress=not args.no_progress,
                   held_out_micrographs=bool(val_names), final_checkpoint=refit)
    if refit:
        _refit(ts, settings, config, args, extra, result, out)
    return 1 if skipped else 0


def _refit(ts: TrainingSet, settings: Preprocessing, config: TrainConfig, args: argparse.Namespace,
           extra: dict, validated: TrainResult, out: TextIO) -> None:
    """Train the networks afresh on every training micrograph into
    ``--train_output``, with ``validated``'s threshold (see ``refit_skipped``)."""
    from ..training.loop import refit, refit_skipped
    from ..training.plan import plan_training

    validated_name = f"{args.train_output}-{validated.steps}"
    why_not = refit_skipped(validated.threshold_rule, validated.capped)
    if why_not:
        print(f"No refit on the validation micrographs: {why_not}", file=out)
        return
    steps = plan_training(len(ts.boxes), config).steps
    print(f"Refitting on all {len(ts.names)} training micrographs, the validation micrographs included: "
          f"{len(ts.boxes)} boxes, {steps} steps; the default threshold stays {validated.threshold:.3f} "
          f"(the validated model is saved in file {validated_name}; --no_refit keeps it)", file=out)
    refit_extra = {**extra, "training": {**extra["training"], "refit": {
        "validated_model": Path(validated_name).name, "validation_error": validated.validation_error,
        "validated_steps": validated.steps}}}
    refit(ts.boxes, ts.is_particle, settings, config, args.train_output, validated.threshold,
          validated.threshold_rule, refit_extra, out=out, progress=not args.no_progress)
    print(f"Refitted model saved in file {args.train_output}", file=out)
