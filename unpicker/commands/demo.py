"""The built-in demo: generate a small micrographs folder, run the three
commands on it as a user would, and score the result against the truth.

    python -m unpicker.commands.demo [--folder demo_run] [--micrographs 10] [--cleaned 4]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def score_folder(folder: Path, names: list[str], output_root: str = "_autopick_unpick.star") -> dict:
    """Precision, recall and F1 of the kept picks against ``<mic>_truth.star``,
    and the same for keeping every pick."""
    from ..formats.relion import read_picks
    from ..formats.star import read_star

    tp = kept = positives = total = 0
    for name in names:
        truth_block = read_star(folder / f"{name}_truth.star").blocks[0]
        xy = np.stack([truth_block.floats("rlnCoordinateX"), truth_block.floats("rlnCoordinateY")], 1)
        truth = np.array(truth_block.column("demoTruth")) == "P"
        out = read_picks(folder / f"{name}{output_root}").xy
        is_kept = np.zeros(len(xy), bool)
        if len(out):
            d = np.hypot(xy[:, None, 0] - out[None, :, 0], xy[:, None, 1] - out[None, :, 1])
            is_kept = d.min(axis=1) < 0.5
        tp += int((is_kept & truth).sum())
        kept += int(is_kept.sum())
        positives += int(truth.sum())
        total += len(truth)

    def prf(tp_, kept_, pos_):
        p = tp_ / kept_ if kept_ else 0.0
        r = tp_ / pos_ if pos_ else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    return {"unpicker": prf(tp, kept, positives), "keep_all": prf(positives, total, positives),
            "picks": total, "kept": kept}


def run(cmd: list[str], cwd: Path) -> None:
    print("$ " + " ".join([Path(cmd[1]).name] + cmd[2:]), flush=True)   # as the user would type it
    r = subprocess.run(cmd, cwd=cwd)
    if r.returncode not in (0,):
        raise SystemExit(f"demo: {' '.join(cmd[1:2])} failed with exit status {r.returncode}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="unpicker_demo", description=__doc__.splitlines()[0])
    ap.add_argument("--folder", default="demo_run", help="where to write the demo (replaced; default demo_run)")
    ap.add_argument("--micrographs", type=int, default=10)
    ap.add_argument("--cleaned", type=int, default=4, help="micrographs with hand-cleaned picks")
    ap.add_argument("--level", default="medium", choices=["easy", "medium", "hard", "lowsnr", "tiny"])
    ap.add_argument("--size", type=int, default=None, help="micrograph edge in pixels (default by level)")
    ap.add_argument("--epochs", type=int, default=None, help="training epochs (default: unpicker_train.py's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)

    from ..demo import DemoConfig, write_demo

    folder = Path(args.folder)
    if folder.exists():
        shutil.rmtree(folder)
    t0 = time.perf_counter()
    cfg = DemoConfig.level(args.level)
    names = write_demo(folder, args.micrographs, args.cleaned, args.level, args.seed, args.size)
    print(f"Generated {len(names)} micrographs ({args.level}) in {folder}/, {args.cleaned} hand-cleaned"
          f" ({time.perf_counter() - t0:.1f} s)")
    py = sys.executable
    box = str(int(cfg.diameter_px * 1.5))
    quiet = ["--no_progress"] if args.quiet else []
    epochs = [] if args.epochs is None else ["--num_epochs", str(args.epochs)]
    run([py, str(ROOT / "trainingSetFromStarFiles.py"), "_autopick.star", "_autopick_correct.star",
         "_autopick_train.star"], folder)
    run([py, str(ROOT / "unpicker_train.py"), "--train_output", "unpickModel.out", "--boxsize", box,
         "--num_cores", "2", "--seed", str(args.seed)] + epochs + quiet, folder)
    run([py, str(ROOT / "unpicker_eval.py"), "--train_output", "unpickModel.out", "--num_cores", "2"] + quiet,
        folder)
    held_out = names[args.cleaned:]
    s = score_folder(folder, held_out)
    print(f"\nHeld-out micrographs ({len(held_out)}), {s['picks']} picks, {s['kept']} kept:")
    for label, key in (("keep every pick", "keep_all"), ("emUnpicker", "unpicker")):
        p, r, f = s[key]
        print(f"  {label:16s} precision {p:.3f}  recall {r:.3f}  F1 {f:.3f}")
    print(f"Demo finished in {time.perf_counter() - t0:.0f} s")
    report = folder / "unpick_report" / "index.html"
    if report.exists():
        print(f"What it removed, and a threshold to move: {report.resolve()} (open it in a browser)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
