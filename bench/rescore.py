"""Re-evaluate trained benchmark runs with other unpicker_eval.py options.

Evaluation-only levers (the network's arithmetic, test-time averaging) need
no retraining: this runs ``unpicker_eval.py`` again, as a user would, in run
folders that ``bench/accuracy.py`` left (bench/out/runs/<data>_<network>_s<seed>_n4<tag>),
with the given options, writes the outputs under their own suffixes beside
the originals, and prints held-out F1 and ROC AUC for both, paired by run.

    .venv/bin/python bench/rescore.py --name f32 --eval_args "--precision float32"
    .venv/bin/python bench/rescore.py --name bf16 --eval_args "--precision bfloat16" --baseline f32
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import DEFAULT_NETWORK, OUT, ROOT, prepare, score_run  # noqa: E402

RUN = re.compile(r"^(?P<data>.+)_(?P<net>resnet\+seed|resnet|seed)_s(?P<seed>\d+)_n4(?P<tag>|_s34)$")


def held_out(work: Path) -> list[str]:
    """The run's held-out micrographs: those with a truth file and no hand-cleaned copy."""
    names = [p.name[:-len("_truth.star")] for p in work.glob("*_truth.star")]
    return sorted(n for n in names if not (work / f"{n}_autopick_correct.star").exists())


def rescore(work: Path, data: str, name: str, eval_args: list[str]) -> dict:
    _, image_dir, _, _, _ = prepare(data)
    kept, rejected = f"_{name}_unpick.star", f"_{name}_rejected.star"
    cmd = [sys.executable, str(ROOT / "unpicker_eval.py"), "--train_output", "model.out",
           "--output_root", kept, "--write_rejected", rejected, "--histogram", "", "--overwrite",
           "--image_dir", str(image_dir), "--num_cores", "2", "--no_progress"] + eval_args
    with open(work / f"log_{name}.txt", "w") as log:
        r = subprocess.run(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                           env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if r.returncode != 0:
        raise RuntimeError(f"unpicker_eval.py failed in {work} (see log_{name}.txt)")
    return score_run(work, held_out(work), (kept, rejected))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True, help="a short name for the outputs' suffixes")
    ap.add_argument("--eval_args", required=True, help="unpicker_eval.py options to compare")
    ap.add_argument("--baseline", default=None,
                    help="compare with the outputs of an earlier --name (default: the run's own outputs)")
    ap.add_argument("--networks", nargs="+", default=[DEFAULT_NETWORK])
    args = ap.parse_args()
    runs = sorted(p for p in (OUT / "runs").iterdir()
                  if (m := RUN.match(p.name)) and m["net"] in args.networks and (p / "model.out").exists())
    if not runs:
        sys.exit(f"no trained runs in {OUT / 'runs'}: run bench/accuracy.py first")
    print(f"{'run':28s} {'F1 before':>9s} {'F1 now':>7s} {'AUC before':>10s} {'AUC now':>8s}")
    diffs = []
    for work in runs:
        m = RUN.match(work.name)
        base = (f"_{args.baseline}_unpick.star", f"_{args.baseline}_rejected.star") if args.baseline else None
        before = score_run(work, held_out(work), base)
        now = rescore(work, m["data"], args.name, args.eval_args.split())
        diffs.append((now["f1"] - before["f1"], now["auc"] - before["auc"]))
        print(f"{work.name:28s} {before['f1']:9.3f} {now['f1']:7.3f} {before['auc']:10.4f} {now['auc']:8.4f}",
              flush=True)
    d = np.array(diffs)
    print(f"{len(d)} runs; change in F1: mean {d[:, 0].mean():+.4f}, largest |change| {np.abs(d[:, 0]).max():.4f}; "
          f"in ROC AUC: mean {d[:, 1].mean():+.4f}, largest |change| {np.abs(d[:, 1]).max():.4f}")


if __name__ == "__main__":
    main()
