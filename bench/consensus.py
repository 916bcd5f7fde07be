"""How many of the real benchmark's N labels are particles the mask missed?
An estimate from the three pickers' agreement.

EMPIAR-10017's twelve benchmark micrographs were picked by crYOLO, topaz and
DeepPicker independently. A pick is *confirmed* when both other pickers have a
pick within ``MATCH_PX`` of it (full-resolution pixels, half a particle
radius). This script reports, per picker:

- how often picks labelled P (centre on the ground-truth mask) are confirmed,
  how often picks labelled N are, and how often random points are (chance);
- how dark the confirmed N picks' centres are, against P and unconfirmed N
  (``label_noise._centre_darkness``: particles are dark here);
- with the default network's benchmark runs present
  (bench/out/runs/<picker>_resnet+seed_<run>, from ``bench/accuracy.py``;
  ``--runs`` names them, by default s0_n4 ... s4_n4_s34), their held-out F1
  and ROC AUC, and keeping every
  pick, scored twice: against the mask's labels, and with the confirmed N
  picks counted as particles.

The second scoring is not a benchmark (three pickers can agree on junk); it
bounds how much of the gap to the targets the labels can explain.

    .venv/bin/python bench/consensus.py [--runs s0_n4_f1h s1_n4_f1h s2_n4_f1h]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from accuracy import (BIN, N_CLEANED, OUT, PICKERS, REAL, load_scores, prepare_real, prf, roc_auc,  # noqa: E402
                      truth_mask, value_at)
from label_noise import RADIUS_PX, _centre_darkness  # noqa: E402
from unpicker.coords import read_box_file  # noqa: E402
from unpicker.threshold import best_f1_threshold  # noqa: E402

MATCH_PX = RADIUS_PX / 2     # full-resolution pixels
# The "beside a particle" control: each P pick moved this far (full-resolution
# pixels) in a random direction, kept where it lands off the mask. crYOLO's N
# picks lie a median 41 px outside the nearest mask disc (label_noise.py), so
# about a radius plus that from the particle's centre.
BESIDE_PX = RADIUS_PX + 41
RUNS = [f"s{s}_n4" for s in (0, 1, 2)] + [f"s{s}_n4_s34" for s in (3, 4)]


def agreement(names: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """For every picker and micrograph: each pick's full-resolution centre,
    its label (on the mask), and how many of the other two pickers picked
    within MATCH_PX of it (0, 1 or 2); also the same count for as many
    uniformly random points as the picker has picks, and for its P picks
    moved BESIDE_PX off (those that land off the mask)."""
    rng = np.random.default_rng(0)
    out: dict[str, dict[str, np.ndarray]] = {p: {} for p in PICKERS}
    for name in names:
        mask = truth_mask(name)
        centres = {p: read_box_file(REAL / "picks" / folder / f"{name}.box")[0] for p, folder in PICKERS.items()}
        trees = {p: cKDTree(c) for p, c in centres.items()}
        for picker, xy in centres.items():
            others = [trees[o] for o in PICKERS if o != picker]
            random_xy = rng.uniform(0, [mask.shape[1], mask.shape[0]], size=xy.shape)
            truth = value_at(mask, xy)
            angle = rng.uniform(0, 2 * np.pi, size=int(truth.sum()))
            beside = xy[truth] + BESIDE_PX * np.stack([np.cos(angle), np.sin(angle)], 1)
            inside = (beside >= 0).all(1) & (beside[:, 0] < mask.shape[1]) & (beside[:, 1] < mask.shape[0])
            beside = beside[inside]
            beside = beside[~value_at(mask, beside)]

            def votes(points: np.ndarray) -> np.ndarray:
                return sum((t.query(points)[0] <= MATCH_PX).astype(int) for t in others)

            out[picker][name] = {"xy": xy, "truth": truth, "votes": votes(xy), "random_votes": votes(random_xy),
                                 "beside_votes": votes(beside)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", nargs="+", default=RUNS,
                    help="the default network's run folders to score, less '<picker>_resnet+seed_'")
    args = ap.parse_args()
    names = sorted(p.stem for p in (REAL / "picks" / PICKERS["crYOLO"]).glob("*.box"))
    data = agreement(names)

    print(f"Confirmed: both other pickers picked within {MATCH_PX:.0f} px (full resolution) of the pick; "
          f"all {len(names)} micrographs.\n")
    print("| picker | P picks confirmed | N picks confirmed | N picks, one other picker | random points confirmed |"
          " P picks moved beside a particle, confirmed | confirmed N picks | share of N that are particles, estimated |")
    print("|---|---|---|---|---|---|---|---|")
    for picker, per in data.items():
        truth = np.concatenate([d["truth"] for d in per.values()])
        votes = np.concatenate([d["votes"] for d in per.values()])
        rnd = np.concatenate([d["random_votes"] for d in per.values()])
        beside = np.concatenate([d["beside_votes"] for d in per.values()])
        print(f"| {picker} | {100 * (votes[truth] == 2).mean():.0f}% | {100 * (votes[~truth] == 2).mean():.0f}% |"
              f" {100 * (votes[~truth] == 1).mean():.0f}% | {100 * (rnd == 2).mean():.1f}% |"
              f" {100 * (beside == 2).mean():.1f}% |"
              f" {int((votes[~truth] == 2).sum())} of {int((~truth).sum())} |"
              f" {100 * particle_share(votes[truth] == 2, votes[~truth] == 2, beside == 2):.0f}% |")

    print("\nCentre darkness (micrograph sd; larger = darker centre), medians over the 12 micrographs:\n")
    print("| picker | P | N confirmed | N not confirmed |")
    print("|---|---|---|---|")
    for picker, per in data.items():
        _, mrc_dir, _, box, _ = prepare_real(picker)
        which = np.concatenate([[n] * len(d["xy"]) for n, d in per.items()])
        xy = np.concatenate([d["xy"] for d in per.values()]) / BIN
        truth = np.concatenate([d["truth"] for d in per.values()])
        confirmed = np.concatenate([d["votes"] for d in per.values()]) == 2
        dark = _centre_darkness(mrc_dir, which, xy, box)
        print(f"| {picker} | {np.median(dark[truth]):.2f} | {np.median(dark[~truth & confirmed]):.2f} |"
              f" {np.median(dark[~truth & ~confirmed]):.2f} |")

    print(f"\nHeld-out micrographs, the default network's runs {' '.join(args.runs)} (mean); labels: the mask's, and"
          " with the confirmed N picks counted as particles:\n")
    print("| picker | runs | keep all F1 | default F1 | default ROC AUC | best-threshold F1 |"
          " keep all F1, corrected | default F1, corrected | default ROC AUC, corrected | best-threshold F1, corrected |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for picker, per in data.items():
        runs = [OUT / "runs" / f"{picker}_resnet+seed_{r}" for r in args.runs]
        runs = [r for r in runs if r.exists()]
        if not runs:
            print(f"| {picker} | 0 | (run bench/accuracy.py to score the default's runs) |")
            continue
        test = names[N_CLEANED:]
        corrected = np.concatenate([per[n]["truth"] | (per[n]["votes"] == 2) for n in test])
        rows = []
        for run in runs:
            truth, score, kept = load_scores(run, test)
            assert len(truth) == len(corrected) and (truth <= corrected).all(), f"{run}: picks out of order"
            figures = []
            for labels in (truth, corrected):
                best = score >= best_f1_threshold(score, labels)    # the best any threshold reaches
                figures += [prf(np.ones_like(labels), labels)[2], prf(kept, labels)[2], roc_auc(score, labels),
                            prf(best, labels)[2]]
            rows.append(figures)
        m = np.mean(rows, axis=0)
        print(f"| {picker} | {len(runs)} | " + " | ".join(f"{v:.3f}" for v in m) + " |")


def particle_share(p_confirmed: np.ndarray, n_confirmed: np.ndarray, beside_confirmed: np.ndarray) -> float:
    """The share of N picks that are particles, if a particle the mask missed
    is confirmed as often as one it marked (rate c_P) and anything else as
    often as a point beside a particle (c_B): (c_N - c_B) / (c_P - c_B),
    clipped to [0, 1]. Junk that all three pickers like would inflate it;
    missed particles that are harder to see than marked ones would deflate it."""
    c_p, c_n, c_b = p_confirmed.mean(), n_confirmed.mean(), beside_confirmed.mean()
    return float(np.clip((c_n - c_b) / max(c_p - c_b, 1e-9), 0.0, 1.0))


if __name__ == "__main__":
    main()
