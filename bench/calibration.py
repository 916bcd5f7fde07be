"""Are the held-out scores calibrated? A reliability table from the accuracy runs.

The threshold the model stores (half the validation F1) is the best one only
for calibrated probabilities: among picks scored about p, a share p should
be particles. For the run folders that match a pattern
(bench/out/runs/<data>_<network>_s<seed>_n4<tag>), this pools the held-out
picks of each data set's runs, bins them by score and prints, per bin, the
mean score, the share of particles by the labels and the number of picks;
then, per data set, the mean score against the share of particles, and the
mean stored threshold against the best single threshold for the held-out
picks (chosen on their labels: what calibrated scores would have let the
stored rule find).

    .venv/bin/python bench/calibration.py "*resnet+seed*_r3"
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from accuracy import OUT, prf  # noqa: E402
from seed_ensembles import held_out_scores  # noqa: E402
from unpicker.threshold import best_f1, best_f1_threshold  # noqa: E402

EDGES = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pattern", help='run folders under bench/out/runs/, e.g. "*resnet+seed*_r3"')
    args = ap.parse_args()
    runs: dict[str, list[tuple[np.ndarray, np.ndarray, float]]] = defaultdict(list)
    for work in sorted((OUT / "runs").glob(args.pattern)):
        if (work / "model.out").exists():
            runs[work.name.split("_")[0]].append(held_out_scores(work))
    if not runs:
        raise SystemExit(f"no finished run matches {args.pattern!r} in {OUT / 'runs'}")
    bins = [f"{lo:.1f}–{hi:.1f}" for lo, hi in zip(EDGES[:-1], EDGES[1:])]
    print("score bins: mean score / share of particles (picks)")
    print("| data | runs | " + " | ".join(bins) + " |")
    print("|---|---|" + "---|" * len(bins))
    summary = []
    for data, rs in runs.items():
        truth = np.concatenate([t for t, _, _ in rs])
        score = np.concatenate([s for _, s, _ in rs])
        which = np.clip(np.searchsorted(EDGES, score, side="right") - 1, 0, len(bins) - 1)
        cells = []
        for b in range(len(bins)):
            m = which == b
            cells.append(f"{score[m].mean():.2f} / {truth[m].mean():.2f} ({m.sum()})" if m.any() else "—")
        print(f"| {data} | {len(rs)} | " + " | ".join(cells) + " |")
        summary.append((data, score.mean(), truth.mean(), np.mean([thr for _, _, thr in rs]),
                        np.mean([best_f1_threshold(s, t) for t, s, _ in rs]),
                        np.mean([prf(s >= thr, t)[2] for t, s, thr in rs]),
                        np.mean([best_f1(s, t) for t, s, _ in rs])))
    print()
    print("| data | mean score | share of particles | stored threshold | best threshold | F1 stored | F1 best |")
    print("|---|---|---|---|---|---|---|")
    for data, *v in summary:
        print(f"| {data} | " + " | ".join(f"{x:.3f}" for x in v) + " |")


if __name__ == "__main__":
    main()
