"""Would averaging independently trained models rank the held-out picks better?

For the runs of one experiment that ``bench/accuracy.py`` left
(bench/out/runs/<data>_<network>_s<seed>_n4<tag>, one per seed), this averages
the seeds' held-out scores (as logits, from the ``_unpickerScore`` column of
the kept and rejected outputs) and compares the average with each seed alone:
ROC AUC, F1 at the threshold (for the average: the mean of the seeds' stored
thresholds, as logits), and the best F1 any single threshold reaches on the
held-out picks (an upper bound no rule can pass).

Averaging N seeds costs N trainings and N times the network in evaluation, so
it is a ceiling for what lower variance could buy, not a candidate default.

    .venv/bin/python bench/seed_ensembles.py _r3 --datasets topaz DeepPicker crYOLO
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from accuracy import DEFAULT_NETWORK, OUT, load_scores, prf, roc_auc  # noqa: E402
from thresholds import _logit, best_f1_by_group, held_out_names  # noqa: E402
from unpicker.modelfile import read_model_info  # noqa: E402


def held_out_scores(work: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """Truth and score of the held-out picks of run folder ``work``, and its stored threshold."""
    info, _ = read_model_info(work / "model.out")
    names = held_out_names(work, set(info.extra["training"]["micrographs"]))
    truth, score, _ = load_scores(work, names)
    return truth, score, info.threshold


def compare(data: str, network: str, seeds: list[int], tag: str) -> None:
    runs = [held_out_scores(OUT / "runs" / f"{data}_{network}_s{s}_n4{tag}") for s in seeds]
    truth = runs[0][0]
    if any(not np.array_equal(t, truth) for t, _, _ in runs):
        raise SystemExit(f"{data}: the runs' held-out picks differ; not the same experiment")
    rows = []
    for seed, (_, score, thr) in zip(seeds, runs):
        rows.append((f"seed {seed}", roc_auc(score, truth), prf(score >= thr, truth)[2],
                     best_f1_by_group([score], [truth])))
    mean_logit = np.mean([_logit(score) for _, score, _ in runs], axis=0)
    thr_logit = float(np.mean([_logit(np.array(thr)) for _, _, thr in runs]))
    single = np.mean([r[1:] for r in rows], axis=0)
    rows.append(("mean of the seeds", *single))
    rows.append((f"{len(seeds)} seeds averaged", roc_auc(mean_logit, truth),
                 prf(mean_logit >= thr_logit, truth)[2], best_f1_by_group([mean_logit], [truth])))
    for name, auc, f1, best in rows:
        print(f"| {data} | {name} | {auc:.4f} | {f1:.4f} | {best:.4f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tag", help="the runs' --tag, e.g. _r3")
    ap.add_argument("--datasets", nargs="+", default=["topaz", "DeepPicker", "crYOLO"])
    ap.add_argument("--network", default=DEFAULT_NETWORK)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = ap.parse_args()
    print("| data | scores | ROC AUC | F1 | best-threshold F1 |")
    print("|---|---|---|---|---|")
    for data in args.datasets:
        compare(data, args.network, args.seeds, args.tag)


if __name__ == "__main__":
    main()
