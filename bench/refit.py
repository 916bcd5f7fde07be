"""The refit, scored from two finished benchmark runs without retraining.

``unpicker_train.py`` (since the refit) first trains with validation, then
trains the same networks afresh on every training micrograph and stores the
validated run's threshold, where ``train.refit_skipped`` allows. Training is
repeatable on a CPU for a given seed, so the refitted model is exactly the
one ``--validation_fraction 0`` trains (checked: every held-out score equal).
Run both tags on the same CPU model: on another, a seed's training differs
slightly (BENCHMARKS.md, "The real-data rows re-run with the command itself").
This script therefore scores, for each run folder of tag B (trained with
``--train_args "--validation_fraction 0"``), the refitted default: B's
scores under the threshold stored by the matching validated run of tag A,
or A itself where the refit rule says no refit (the threshold keeps every
pick, is the F1-best cut, or the step cap cut A's training short).

    .venv/bin/python bench/refit.py _f1h _all4 [--json OUT]        # the table's runs
    .venv/bin/python bench/refit.py _curve _curve_c4 [--json OUT]  # the learning curve's

Prints, per run, the validated and refitted held-out F1 and ROC AUC, then
means by data set and the change over all runs; ``--json`` writes records in
the form of ``bench/accuracy.py``'s results (for its table).
"""
from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from accuracy import DEFAULT_NETWORK, OUT, load_scores, prf, roc_auc  # noqa: E402


def refitted(info: dict) -> bool:
    """Whether the command would have refitted after this validated run
    (its model file's ``threshold_rule`` and ``capped``, read by the
    command's own rule, ``refit_skipped``)."""
    from unpicker.train import refit_skipped

    if "threshold_rule" not in info:
        raise SystemExit("the validated run's model file does not say which rule set its threshold"
                         " (written before 2026-11-28); re-run it")
    return (bool(info["training"]["validation_micrographs"])
            and refit_skipped(info["threshold_rule"], info["capped"]) is None)


def score(a: Path, b: Path) -> dict:
    info = json.loads((a / "model.out").read_text())
    refit = refitted(info)
    trained = set(info["training"]["micrographs"])
    test = sorted(n for n in (p.name[: -len("_truth.star")] for p in b.glob("*_truth.star")) if n not in trained)
    truth, validated_score, kept = load_scores(a, test)
    truth_b, refit_score, _ = load_scores(b, test)
    assert np.array_equal(truth, truth_b), f"{a.name} and {b.name} score different picks"
    validated_f1 = prf(kept, truth)[2]
    if refit:
        kept, final_score = refit_score >= info["threshold"], refit_score
    else:
        final_score = validated_score
    p, r, f = prf(kept, truth)
    return {"precision": p, "recall": r, "f1": f, "auc": roc_auc(final_score, truth),
            "keep_all_f1": prf(np.ones_like(truth), truth)[2], "keep_all_precision": float(truth.mean()),
            "picks": int(len(truth)), "dataset": b.name.split("_")[0], "network": DEFAULT_NETWORK,
            "seed": int(re.search(r"_s(\d+)_", b.name)[1]), "n_train": int(re.search(r"_n(\d+)", b.name)[1]),
            "seconds": None, "extra": [f"refit composed from {a.name} and {b.name}" if refit else
                                       f"no refit: {a.name}"],
            "refit": refit, "threshold": info["threshold"],
            "validated_f1": validated_f1,
            "validated_auc": roc_auc(validated_score, truth)}


def main() -> None:
    a_tag, b_tag = sys.argv[1], sys.argv[2]
    records = []
    for b in sorted((OUT / "runs").glob(f"*{b_tag}")):
        a = OUT / "runs" / (b.name[: -len(b_tag)] + a_tag)
        if (a / "model.out").exists() and (b / "model.out").exists():
            r = score(a, b)
            records.append(r)
            print(f"{b.name[: -len(b_tag)]:36s} {'refit   ' if r['refit'] else 'no refit'} threshold "
                  f"{r['threshold']:.3f}: F1 {r['validated_f1']:.4f} -> {r['f1']:.4f}, "
                  f"ROC AUC {r['validated_auc']:.4f} -> {r['auc']:.4f}")
    groups = defaultdict(list)
    for r in records:
        groups[(r["dataset"], r["n_train"])].append(r)
    for (data, n), rs in groups.items():
        mean = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        print(f"{data} ({n} micrographs), {len(rs)} runs: F1 {mean('validated_f1'):.4f} -> {mean('f1'):.4f}, "
              f"ROC AUC {mean('validated_auc'):.4f} -> {mean('auc'):.4f}")
    if records:
        df = np.array([r["f1"] - r["validated_f1"] for r in records])
        da = np.array([r["auc"] - r["validated_auc"] for r in records])
        print(f"{len(records)} runs, {sum(r['refit'] for r in records)} refitted: F1 {df.mean():+.4f} "
              f"(better {np.sum(df > 1e-9)}, worse {np.sum(df < -1e-9)}), ROC AUC {da.mean():+.4f} "
              f"(better {np.sum(da > 1e-9)}, worse {np.sum(da < -1e-9)})")
    if "--json" in sys.argv:
        Path(sys.argv[sys.argv.index("--json") + 1]).write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
