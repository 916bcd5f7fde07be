"""How much of the held-out F1 is lost to the choice of threshold?

For each finished run of ``bench/accuracy.py`` (bench/out/runs/), the held-out
F1 under:

- the threshold stored in the model;
- the two rules the model file has used, applied to the validation
  micrographs' scores: the F1-best cut on them (the rule until 2026-11-27)
  and half the best F1 on them (the rule since, ``choose_threshold``); both
  keep every pick where the out-of-bag check says so, which neither changes
  (recomputed here, as the stored threshold may come from either rule);
- 0.5;
- two smoother rules fitted on the validation micrographs: Platt scaling
  then the threshold that maximises the expected F1, and the median of the
  F1-best threshold over bootstrap resamples;
- the best threshold for the held-out picks themselves (an upper bound no
  rule can pass).

Then, over all runs, the rule of now against the rule before.

With ``--per_micrograph``, for every run (refitted ones included): the
held-out F1 of the stored threshold, of the best single threshold for the
held-out picks, and of the best threshold chosen for each held-out
micrograph separately (all chosen on the held-out labels: upper bounds for
any rule, global or adapted to each micrograph).

    .venv/bin/python bench/thresholds.py ["*_n4*"] [--per_micrograph]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from accuracy import OUT, load_scores, prf  # noqa: E402
from unpicker.threshold import best_f1_threshold, choose_threshold  # noqa: E402


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def platt(score: np.ndarray, truth: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """(a, b) of P = sigmoid(a * logit(score) + b), by Newton's method."""
    z, y = _logit(score), truth.astype(float)
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(a * z + b, -30, 30)))
        w = p * (1 - p) + 1e-9
        hess = np.array([[np.sum(w * z * z), np.sum(w * z)], [np.sum(w * z), np.sum(w)]])
        grad = np.array([np.sum((p - y) * z), np.sum(p - y)])
        a, b = np.array([a, b]) - np.linalg.solve(hess + 1e-6 * np.eye(2), grad)
    return float(a), float(b)


def expected_f1_threshold(p: np.ndarray) -> float:
    """The threshold maximising the F1 expected if ``p`` were calibrated."""
    p = np.sort(p)[::-1]
    f1 = 2 * np.cumsum(p) / (np.arange(1, len(p) + 1) + p.sum())
    return float(p[int(np.argmax(f1))])


def held_out_names(work: Path, trained: set[str]) -> list[str]:
    """The micrographs of run folder ``work`` that its model did not train on."""
    names = (p.name[: -len("_truth.star")] for p in work.glob("*_truth.star"))
    return sorted(n for n in names if n not in trained)


def best_f1_by_group(scores: list[np.ndarray], truths: list[np.ndarray]) -> float:
    """The highest F1 of the kept picks over all the groups together when each
    group (a micrograph) gets its own threshold.

    F1 = 2 TP / (kept + P) with P fixed, so for a trial value f the best
    choice of ``2 TP - f kept`` separates into one per group; iterating f to
    the F1 that choice reaches (Dinkelbach's method) ends at the optimum. A
    group's choices are its top-k picks by score, k cut only where the score
    changes (a threshold cannot split tied scores)."""
    n_pos = sum(int(t.sum()) for t in truths)
    ranked = []
    for s, t in zip(scores, truths):
        order = np.argsort(-s, kind="stable")
        tp = np.concatenate([[0], np.cumsum(t[order])])
        k = np.arange(len(s) + 1)
        cut = np.concatenate([[True], s[order][1:] != s[order][:-1], [True]])   # k where a threshold can fall
        ranked.append((tp[cut], k[cut]))
    f, best = 0.0, -1.0
    while f > best + 1e-12:
        best = f
        chosen = [int(np.argmax(2 * tp - f * k)) for tp, k in ranked]
        tp_all = sum(int(tp[i]) for (tp, _), i in zip(ranked, chosen))
        kept = sum(int(k[i]) for (_, k), i in zip(ranked, chosen))
        f = 2 * tp_all / (kept + n_pos) if kept + n_pos else 0.0
    return best


def per_micrograph(pattern: str) -> None:
    """Stored, best single and best per-micrograph threshold, each run."""
    print("| run | stored | best single threshold | best threshold per micrograph |")
    print("|---|---|---|---|")
    by_data: dict[str, list[list[float]]] = {}
    for work in sorted((OUT / "runs").glob(pattern)):
        if not (work / "model.out").exists():
            continue
        trained = set(json.loads((work / "model.out").read_text())["training"]["micrographs"])
        per = [load_scores(work, [name]) for name in held_out_names(work, trained)]
        truth, score, kept = (np.concatenate(a) for a in zip(*per))
        row = [prf(kept, truth)[2], best_f1_by_group([score], [truth]),
               best_f1_by_group([p[1] for p in per], [p[0] for p in per])]
        print(f"| {work.name} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
        by_data.setdefault(work.name.split("_")[0], []).append(row)
    for data, rows in by_data.items():
        print(f"| **{data}, mean of {len(rows)}** | " + " | ".join(f"{v:.3f}" for v in np.mean(rows, 0)) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pattern", nargs="?", default="*_n4*", help="run folders under bench/out/runs/")
    ap.add_argument("--per_micrograph", action="store_true",
                    help="the best threshold per held-out micrograph against the best single one")
    args = ap.parse_args()
    if args.per_micrograph:
        per_micrograph(args.pattern)
        return
    pattern = args.pattern
    rules = ["keep all", "stored", "F1-best cut", "half the F1", "0.5", "Platt", "bootstrap", "best possible"]
    print("| run | " + " | ".join(rules) + " |")
    print("|---" * (len(rules) + 1) + "|")
    by_data: dict[str, list[list[float]]] = {}
    for work in sorted((OUT / "runs").glob(pattern)):
        if not (work / "model.out").exists():
            continue
        info = json.loads((work / "model.out").read_text())
        val_names = info["training"]["validation_micrographs"]
        if not val_names:       # one training micrograph: no rule applies
            continue
        if "refit" in info["training"]:   # the model scored was also trained on the validation micrographs
            continue
        test_names = held_out_names(work, set(info["training"]["micrographs"]))
        yv, sv, _ = load_scores(work, val_names)
        yt, st, _ = load_scores(work, test_names)

        def f1(t: float, score: np.ndarray = st) -> float:
            return prf(score >= t, yt)[2]

        now = choose_threshold(sv, yv)
        before = 0.0 if now == 0.0 else best_f1_threshold(sv, yv)     # the same out-of-bag check
        a, b = platt(sv, yv)
        calibrated = lambda s: 1 / (1 + np.exp(-np.clip(a * _logit(s) + b, -30, 30)))  # noqa: E731
        rng = np.random.default_rng(0)
        boot = [best_f1_threshold(sv[i], yv[i]) for i in (rng.integers(0, len(sv), len(sv)) for _ in range(200))]
        row = [f1(0.0), f1(info["threshold"]), f1(before), f1(now), f1(0.5),
               f1(expected_f1_threshold(calibrated(sv)), calibrated(st)), f1(float(np.median(boot))),
               max(f1(t) for t in np.unique(st))]
        print(f"| {work.name} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
        by_data.setdefault(work.name.split("_")[0], []).append(row)
    for data, rows in by_data.items():
        print(f"| **{data}, mean of {len(rows)}** | " + " | ".join(f"{v:.3f}" for v in np.mean(rows, 0)) + " |")
    change = np.array([r[3] - r[2] for rows in by_data.values() for r in rows])
    print(f"half the F1 against the F1-best cut, {len(change)} runs: mean change {change.mean():+.4f}, "
          f"better in {np.sum(change > 1e-9)}, worse in {np.sum(change < -1e-9)}, "
          f"equal in {np.sum(np.abs(change) <= 1e-9)}")


if __name__ == "__main__":
    main()
