"""Benchmark: training time at the original example's size.

8,478 boxes (boxsize 250 -> 32; 20% held out by micrograph, as training does),
25 epochs (an epoch = every training box under each of the 4 rotations, as the
original counted), 2 CPU threads. Boxes are generated (speed does not depend on
their content); extraction is measured by bench_boxes.py (about 0.3 s per
micrograph). Reports steps/s and the whole run's time per network (an
ensemble's steps train all its networks, and stop at its step cap).

With ``--refit``, each network is then trained afresh on all the boxes, as
``unpicker_train.py``'s refit does where the first training was not cut by
the step cap, and the two trainings' time is reported together.
``--boxes 3995 --refit`` is the longest training the command does at the
defaults: the validated training just under the step cap (3,196 boxes,
2,496 steps), then a refit that reaches it.

With ``--choose``, the three short trainings of ``--preprocessing choose``
(the default) come first, timed on their own, as ``unpicker_train.py`` runs
them (extracting the training set again for each low-pass is not counted:
see bench_boxes.py).

    .venv/bin/python bench/bench_train.py [--networks resnet+seed seed] [--epochs 25] [--max_steps N] [--refit]
                                          [--choose]
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from unpicker.images.preprocess import Preprocessing  # noqa: E402
from unpicker.networks.backend import PRECISIONS, describe_device, import_keras, resolve_precision  # noqa: E402
from unpicker.training.plan import TrainConfig  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", nargs="+", default=["resnet+seed", "seed"],
                    help="resnet+seed (the default), resnet, seed")
    ap.add_argument("--max_steps", type=int, default=None, help="as unpicker_train.py --max_steps")
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--boxes", type=int, default=8478)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--precision", default="auto", choices=PRECISIONS,
                    help="as unpicker_train.py --precision (default auto: bfloat16 on a CPU with bfloat16 "
                         "instructions, else float32)")
    ap.add_argument("--refit", action="store_true",
                    help="then train afresh on all the boxes, as unpicker_train.py's refit (unless the step cap cut "
                         "the first training)")
    ap.add_argument("--choose", action="store_true",
                    help="first the three short trainings that --preprocessing choose runs, timed on their own")
    args = ap.parse_args()
    import_keras()
    from unpicker.images.preprocess import lowpass_candidates
    from unpicker.training.loop import refit, train, trial
    from unpicker.training.plan import trial_steps

    precision = resolve_precision(args.precision)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.boxes, 32, 32)).astype(np.float32)
    y = rng.random(args.boxes) < 0.5
    n_val = args.boxes // 5
    settings = Preprocessing(boxsize_px=250, resized_px=32)
    for net in args.networks:
        with tempfile.TemporaryDirectory() as d:
            config = TrainConfig(network=net, num_epochs=args.epochs, num_cores=args.cores,
                                 precision=precision, max_steps=args.max_steps)
            chose = 0.0
            if args.choose:
                steps = trial_steps(args.boxes - n_val, config)
                t0 = time.perf_counter()
                candidates = lowpass_candidates(settings)
                for _, candidate in candidates:
                    trial(x[n_val:], y[n_val:], x[:n_val], candidate, config, steps)
                chose = time.perf_counter() - t0
                print(f"{net:11s} choosing the preprocessing: {len(candidates)} trainings of {steps} steps in "
                      f"{chose:.0f} s", flush=True)
            r = train(x[n_val:], y[n_val:], x[:n_val], y[:n_val], settings, config, Path(d) / "m.out",
                      out=io.StringIO(), progress=False)
            print(f"{net:11s} {args.boxes} boxes, {args.epochs} epochs: {r.steps} steps in {r.seconds:.0f} s"
                  f" ({r.steps / r.seconds:.1f} steps/s, {r.seconds / 60:.1f} min), {describe_device(args.cores)},"
                  f" precision {precision}"
                  + (f"; with the choice {(chose + r.seconds) / 60:.1f} min" if args.choose else ""), flush=True)
            if args.refit and not r.capped:
                f = refit(x, y, settings, config, Path(d) / "m.out", 0.5, "given", out=io.StringIO(), progress=False)
                total, seconds = r.steps + f.steps, r.seconds + f.seconds
                print(f"{'':11s} refit on all {args.boxes} boxes: {f.steps} steps in {f.seconds:.0f} s; both"
                      f" trainings {total} steps in {seconds:.0f} s ({seconds / 60:.1f} min)", flush=True)
            elif args.refit:
                print(f"{'':11s} no refit: the step cap cut the first training", flush=True)


if __name__ == "__main__":
    main()
