"""Accuracy benchmark: real EMPIAR-10017 picks and simulated micrographs.

For each data set it builds a RELION-style micrographs folder, "hand-cleans" a
few micrographs (keeps the picks that are true), runs the three commands as a
user would (trainingSetFromStarFiles.py, unpicker_train.py, unpicker_eval.py,
in subprocesses) and scores the held-out micrographs: precision, recall and
F1 of the kept picks, ROC AUC of the ``_unpickerScore`` column, and the same
F1 for keeping every pick.

Real data (``../shared/data/empiar10017``): the 12 micrographs with picks, in
name order; the JPGs are flipped (see that folder's README) and binned 2x to
2048x2048, 3.54 Å/px; picks are EMAN box centres (box 180 px -> 90 binned),
with the picker's score as ``_rlnAutopickFigureOfMerit``; truth: centre on the
ground-truth mask. Micrographs 1-4 are hand-cleaned, 5-12 held out. The
learning curve trains on the first 1, 2, 4, 8 and scores micrographs 9-12.

Simulated: the package's generator (``unpicker.demo``) at three difficulties
(medium, hard, and lowsnr: less than half hard's SNR, over-picked),
12 micrographs each, 4 hand-cleaned, 8 held out. ``sim-hard-58`` (any level
and count): a large training set, all but the last 8 of 58 micrographs
hand-cleaned (about 8,000 picks, the original example's size), for
measuring what the default's step cap costs.

    .venv/bin/python bench/accuracy.py                 # everything (about two hours on 2 cores)
    .venv/bin/python bench/accuracy.py --quick         # one seed, no learning curve
    .venv/bin/python bench/accuracy.py --datasets crYOLO --networks resnet --seeds 0

Writes bench/out/ (data, runs, results.json) and, unless --no_write,
the accuracy section of BENCHMARKS.md and bench/learning_curve.png.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heldout import (DEFAULT_NETWORK, HERE, OUT, PICKERS, REAL, ROOT, SIM_LEVELS, prepare, run_once,  # noqa: E402
                     split)
from unpicker.files import atomic_write_text  # noqa: E402


def summarise(results: list[dict], key: str) -> tuple[float, float]:
    v = np.array([r[key] for r in results], float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), for the report: seeds train
    slightly differently on different CPU models."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def write_report(results: list[dict], curve: list[dict], path: Path, png: Path, args) -> None:
    datasets = list(dict.fromkeys(r["dataset"] for r in results))
    networks = list(dict.fromkeys(r["network"] for r in results))
    seeds = sorted({r["seed"] for r in results})
    lines = ["<!-- accuracy:begin (written by bench/accuracy.py; edit outside the markers) -->",
             "## Accuracy (held-out micrographs)", "",
             f"`.venv/bin/python bench/accuracy.py {' '.join(args.argv)}`".replace(" `", "`"),
             f"— {datetime.date.today().isoformat()}, {cpu_name()} ({platform.machine()}, {os.cpu_count()} cores),"
             f" Python {platform.python_version()}; seeds {seeds}; mean ± sd over seeds.", "",
             "| data | picks | keep all: precision / F1 | network | precision | recall | F1 | ROC AUC |",
             "|---|---|---|---|---|---|---|---|"]
    for ds in datasets:
        for net in networks:
            rs = [r for r in results if r["dataset"] == ds and r["network"] == net]
            if not rs:
                continue
            cells = [f"{m:.3f} ± {s:.3f}" for m, s in (summarise(rs, k) for k in ("precision", "recall", "f1", "auc"))]
            lines.append(f"| {ds} | {rs[0]['picks']} | {rs[0]['keep_all_precision']:.3f} / {rs[0]['keep_all_f1']:.3f}"
                         f" | {net} | " + " | ".join(cells) + " |")
    if curve:
        lines += ["", f"Learning curve ({curve[0]['network']}, seed 0; scored on micrographs 9-12): F1 by number of"
                  " hand-cleaned micrographs", "", "| data | " + " | ".join(
                      str(n) for n in sorted({c['n_train'] for c in curve})) + " | keep all |", "|---" * (
                      2 + len({c['n_train'] for c in curve})) + "|"]
        for ds in dict.fromkeys(c["dataset"] for c in curve):
            cs = sorted((c for c in curve if c["dataset"] == ds), key=lambda c: c["n_train"])
            lines.append(f"| {ds} | " + " | ".join(f"{c['f1']:.3f}" for c in cs) + f" | {cs[0]['keep_all_f1']:.3f} |")
        _plot_curve(curve, png)
        lines += ["", f"![learning curve]({png.relative_to(ROOT)})"]
    lines.append("<!-- accuracy:end -->")
    block = "\n".join(lines) + "\n"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if "<!-- accuracy:begin" in text:
        start = text.index("<!-- accuracy:begin")
        end = text.index("<!-- accuracy:end -->") + len("<!-- accuracy:end -->\n")
        text = text[:start] + block + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    atomic_write_text(path, text)


def _plot_curve(curve: list[dict], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for ds in dict.fromkeys(c["dataset"] for c in curve):
        cs = sorted((c for c in curve if c["dataset"] == ds), key=lambda c: c["n_train"])
        line, = ax.plot([c["n_train"] for c in cs], [c["f1"] for c in cs], "o-", label=ds)
        ax.axhline(cs[0]["keep_all_f1"], color=line.get_color(), ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("hand-cleaned micrographs")
    ax.set_ylabel("held-out F1 (dotted: keep all)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(PICKERS) + [f"sim-{lv}" for lv in SIM_LEVELS])
    ap.add_argument("--networks", nargs="+", default=[DEFAULT_NETWORK, "seed"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--quick", action="store_true", help="seed 0 only, no learning curve")
    ap.add_argument("--no_curve", action="store_true")
    ap.add_argument("--curve_sizes", nargs="+", type=int, default=[1, 2, 4, 8],
                    help="hand-cleaned micrographs for the learning curve's points")
    ap.add_argument("--curve_only", action="store_true",
                    help="only the learning curve (with --merge: the table's rows are kept)")
    ap.add_argument("--no_write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    ap.add_argument("--train_args", default="", help="extra unpicker_train.py options (experiments)")
    ap.add_argument("--tag", default="", help="experiments: suffix for the run folders and results file"
                    " (implies --no_write)")
    ap.add_argument("--jobs", type=int, default=1, help="runs at once (default 1)")
    ap.add_argument("--route", choices=["star", "box"], default="star",
                    help="box: the real pickers' EMAN box files as they are, instead of STAR files made from them "
                    "(the same held-out figures show the box files' orientation; implies --no_write)")
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows of bench/out/results.json for (data, network, seed) not re-run here")
    args = ap.parse_args()
    args.argv = sys.argv[1:]
    if any(d in PICKERS for d in args.datasets) and not REAL.exists():
        print(f"real data not found at {REAL}; using the simulated sets only")
        args.datasets = [d for d in args.datasets if d not in PICKERS]
    seeds = [0] if args.quick else args.seeds
    if args.route == "box":
        args.datasets = [d for d in args.datasets if d in PICKERS]
        args.tag = args.tag or "_box"
    extra = args.train_args.split()
    results, curve = [], []
    # (kind, dataset, network, seed, train names, test names, tag), seed by seed,
    # so that a run cut short has every data set at its first seeds
    names = {ds: prepare(ds)[2] for ds in args.datasets}
    tasks = [("table", ds, net, seed, *split(ds, names[ds]), args.tag)
             for seed in seeds for ds in args.datasets for net in ([] if args.curve_only else args.networks)]
    if not (args.quick or args.no_curve):
        tasks += [("curve", ds, DEFAULT_NETWORK, 0, names[ds][:n], names[ds][8:], f"_curve{args.tag}")
                  for ds in args.datasets if ds in PICKERS for n in args.curve_sizes]

    def one(task):
        kind, ds, net, seed, train, test, tag = task
        return task, run_once(ds, net, seed, train, test, extra, tag=tag, route=args.route)

    OUT.mkdir(exist_ok=True)
    partial = OUT / f"results{args.tag}.partial.json"
    # runs are independent subprocess pipelines: --jobs > 1 runs several at once
    # (for a machine with cores or a GPU to spare; on 2 cores it only adds noise)
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for future in as_completed([pool.submit(one, t) for t in tasks]):
            task, r = future.result()
            kind, ds, net, seed, train = task[:5]
            if kind == "table":
                results.append(r)
                print(f"{ds:12s} {net:6s} seed {seed}: P {r['precision']:.3f} R {r['recall']:.3f} "
                      f"F1 {r['f1']:.3f} AUC {r['auc']:.3f} (keep all F1 {r['keep_all_f1']:.3f}) "
                      f"{r['seconds']:.0f} s", flush=True)
            else:
                curve.append(r)
                print(f"{ds:12s} curve n={len(train)}: F1 {r['f1']:.3f} (keep all {r['keep_all_f1']:.3f})",
                      flush=True)
            partial.write_text(json.dumps({"results": results, "curve": curve}, indent=1))
    position = {(t[0], t[1], t[2], t[3], len(t[4])): i for i, t in enumerate(tasks)}
    results.sort(key=lambda r: position[("table", r["dataset"], r["network"], r["seed"], r["n_train"])])
    curve.sort(key=lambda c: position[("curve", c["dataset"], DEFAULT_NETWORK, 0, c["n_train"])])
    partial.unlink()
    if args.merge and not args.tag and (OUT / "results.json").exists():
        old = json.loads((OUT / "results.json").read_text())
        done = {(r["dataset"], r["network"], r["seed"]) for r in results}
        results = [r for r in old["results"] if (r["dataset"], r["network"], r["seed"]) not in done] + results
        redone = {(c["dataset"], c["n_train"]) for c in curve}
        curve = [c for c in old["curve"] if (c["dataset"], c["n_train"]) not in redone] + curve
        order = {d: i for i, d in enumerate(list(PICKERS) + [f"sim-{lv}" for lv in SIM_LEVELS])}
        rank = {DEFAULT_NETWORK: 0, "resnet": 1}
        results.sort(key=lambda r: (order.get(r["dataset"], 99), rank.get(r["network"], 2), r["seed"]))
        curve.sort(key=lambda c: (order.get(c["dataset"], 99), c["n_train"]))
    (OUT / f"results{args.tag}.json").write_text(json.dumps({"results": results, "curve": curve}, indent=1))
    if not (args.no_write or args.tag):
        write_report(results, curve, ROOT / "BENCHMARKS.md", HERE / "learning_curve.png", args)
        print("wrote BENCHMARKS.md")


if __name__ == "__main__":
    main()
