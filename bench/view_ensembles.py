"""Test-time views and two-network ensembles, scored after the fact on the accuracy runs.

For every paired run that ``bench/accuracy.py`` left (both networks, the same
data set and seed: bench/out/runs/<data>_{resnet,seed}_s<seed>_n4<tag>), this
computes each trained network's calibrated logit for every held-out pick and
every validation box under each of the 8 dihedral views, once (cached in
bench/out/views/), and then scores combinations without retraining: a network
averaged over some views, or both networks' logits averaged over views shared
out between them. Each combination's threshold is chosen on its validation
micrograph by the rule the model file uses (``choose_threshold``); held-out F1
and ROC AUC are compared with the seed network and the default (resnet), each
averaged over 4 rotations, run by run.

    .venv/bin/python bench/view_ensembles.py                 # seeds 0-4 of the accuracy table
    .venv/bin/python bench/view_ensembles.py --tag _e8 --seeds 0 1 2   # runs of an experiment
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from accuracy import OUT, PICKERS, SIM_LEVELS, prepare, prf, roc_auc  # noqa: E402
from rescore import held_out  # noqa: E402
from unpicker.boxes import dihedral  # noqa: E402
from unpicker.dataset import load_boxes  # noqa: E402
from unpicker.modelfile import read_model_info  # noqa: E402
from unpicker.star import read_star  # noqa: E402
from unpicker.trainingset import read_training_file  # noqa: E402

DATA = list(PICKERS) + [f"sim-{lv}" for lv in SIM_LEVELS]
# name: [(network, dihedral elements)], the logits of all listed views averaged
COMBINATIONS = {
    "resnet 4 rotations (the default)": [("resnet", (0, 1, 2, 3))],
    "seed 4 rotations": [("seed", (0, 1, 2, 3))],
    "resnet 8 views": [("resnet", range(8))],
    "seed 8 views": [("seed", range(8))],
    "resnet 2 views (0, 180 degrees)": [("resnet", (0, 2))],
    "both, 4 rotations each": [("resnet", (0, 1, 2, 3)), ("seed", (0, 1, 2, 3))],
    "both, 2 views each (0/180, 90/270)": [("resnet", (0, 2)), ("seed", (1, 3))],
    "both, 8 views each": [("resnet", range(8)), ("seed", range(8))],
}


def run_folder(data: str, network: str, seed: int, tag: str) -> Path:
    return OUT / "runs" / f"{data}_{network}_s{seed}_n4{tag}"


def view_margins(data: str, seed: int, tag: str) -> dict:
    """Labels and (8, n) per-view calibrated logits of both networks (cached)."""
    cache = OUT / "views" / f"{data}_s{seed}{tag}.npz"
    if cache.exists():
        return dict(np.load(cache))
    from unpicker.tfquiet import import_keras

    import_keras()
    from unpicker.model import build_network, inference_network, particle_margin
    from unpicker.train import configure_backend

    configure_backend(2, 0)
    work = run_folder(data, "resnet", seed, tag)
    _, image_dir, _, _, _ = prepare(data)
    info, _ = read_model_info(work / "model.out")
    if "refit" in info.extra["training"]:
        raise SystemExit(f"{work}: refitted on its validation micrographs; run the benchmark with "
                         "--train_args --no_refit for this analysis")
    settings = info.preprocessing
    boxes, labels = {"test": [], "val": []}, {"test": [], "val": []}
    for name in held_out(work):
        t = read_star(work / f"{name}_truth.star").blocks[0]
        xy = np.stack([t.floats("rlnCoordinateX"), t.floats("rlnCoordinateY")], 1)
        boxes["test"].append(load_boxes(image_dir / f"{name}.mrc", xy, settings))
        labels["test"].append(np.array(t.column("demoTruth")) == "P")
    for name in info.extra["training"]["validation_micrographs"]:
        picks = read_training_file(work / f"{name}_autopick_train.star")
        boxes["val"].append(load_boxes(image_dir / f"{name}.mrc", picks.xy, settings))
        labels["val"].append(picks.is_particle)
    out = {f"{k}_y": np.concatenate(v) for k, v in labels.items()}
    for network in ("resnet", "seed"):
        m_info, [(_, weights)] = read_model_info(run_folder(data, network, seed, tag) / "model.out")
        if m_info.extra["training"]["validation_micrographs"] != info.extra["training"]["validation_micrographs"]:
            raise SystemExit(f"{data} seed {seed}: the two networks were validated on different micrographs")
        model = build_network(network, settings.resized_px)
        model.load_weights(weights)
        model = inference_network(model)
        for part in ("test", "val"):
            x = np.concatenate(boxes[part])
            out[f"{network}_{part}"] = np.stack([particle_margin(model, dihedral(x, k), logit_shift=m_info.logit_shift)
                                                 for k in range(8)])
    cache.parent.mkdir(exist_ok=True)
    np.savez(cache, **out)
    return out


def score(margins: dict, combination, part: str) -> np.ndarray:
    logits = np.concatenate([margins[f"{network}_{part}"][list(views)] for network, views in combination])
    return 1.0 / (1.0 + np.exp(-logits.mean(axis=0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tag", default="", help="the runs' folder suffix (default: the accuracy table's runs)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--datasets", nargs="+", default=DATA)
    args = ap.parse_args()
    from unpicker.threshold import choose_threshold

    results = {}
    for data in args.datasets:
        for seed in args.seeds:
            # seeds 3 and 4 of the accuracy table were run with the tag _s34
            tag = args.tag or ("_s34" if seed >= 3 else "")
            if not all((run_folder(data, n, seed, tag) / "model.out").exists() for n in ("resnet", "seed")):
                print(f"skipped {data} seed {seed}: no trained pair of runs")
                continue
            m = view_margins(data, seed, tag)
            for name, combination in COMBINATIONS.items():
                threshold = choose_threshold(score(m, combination, "val"), m["val_y"])
                prob = score(m, combination, "test")
                results[name, data, seed] = (prf(prob >= threshold, m["test_y"])[2], roc_auc(prob, m["test_y"]))
    runs = sorted({(d, s) for _, d, s in results})
    base = {ref: np.array([results[ref, d, s] for d, s in runs])
            for ref in ("seed 4 rotations", "resnet 4 rotations (the default)")}
    print(f"{len(runs)} paired runs; held-out F1 / ROC AUC, means over seeds; 'wins' = runs better / worse")
    print(f"{'combination':36s} " + " ".join(f"{d:>13s}" for d in args.datasets)
          + "   vs seed: dF1 wins, dAUC wins   vs default: dF1, dAUC wins")
    for name in COMBINATIONS:
        r = np.array([results[name, d, s] for d, s in runs])
        cells = []
        for data in args.datasets:
            sel = [i for i, (d, _) in enumerate(runs) if d == data]
            cells.append(f"{r[sel, 0].mean():.3f}/{r[sel, 1].mean():.3f}" if sel else "-")
        vs = []
        for ref in base.values():
            d = r - ref
            vs.append(f"{d[:, 0].mean():+.4f} {np.sum(d[:, 0] > 1e-9)}/{np.sum(d[:, 0] < -1e-9)}, "
                      f"{d[:, 1].mean():+.4f} {np.sum(d[:, 1] > 0)}/{np.sum(d[:, 1] < 0)}")
        print(f"{name:36s} " + " ".join(f"{c:>13s}" for c in cells) + "   " + "   ".join(vs))


if __name__ == "__main__":
    main()
