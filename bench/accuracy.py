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
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from unpicker.files import atomic_write_text  # noqa: E402
from unpicker.formats.eman import read_box_file  # noqa: E402
from unpicker.formats.picks import CoordinateOptions, read_coordinates  # noqa: E402
from unpicker.formats.relion import read_picks  # noqa: E402
from unpicker.formats.star import format_loop_block, read_star  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "empiar10017"
OUT = HERE / "out"
PICKERS = {"crYOLO": "crYOLO", "topaz": "topaz", "DeepPicker": "deepPicker"}
COLUMNS = ["rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit", "rlnClassNumber", "rlnAnglePsi"]
BIN = 2
REAL_APIX = 1.77 * BIN
REAL_BOX = 180 // BIN
SIM_LEVELS = ("medium", "hard", "lowsnr")
DEFAULT_NETWORK = "resnet+seed"   # unpicker_train.py's default
N_CLEANED = 4


# ---------------------------------------------------------------- data sets

def _rows(xy, score):
    return [[f"{x:.2f}", f"{y:.2f}", f"{s:.6g}", "0", "-999.0"] for (x, y), s in zip(xy, score)]


def prepare_real(picker: str) -> tuple[Path, Path, list[str], int, float]:
    """bench/out/real/<picker>/ with star files and the truth; micrographs in
    bench/out/real/mrc/. Returns (folder, image folder, names, box, apix)."""
    mrc_dir = OUT / "real" / "mrc"
    folder = OUT / "real" / picker
    box_dir = REAL / "picks" / PICKERS[picker]
    names = sorted(p.stem for p in box_dir.glob("*.box"))
    mrc_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        _real_micrograph(name, mrc_dir / f"{name}.mrc")
    if (folder / "done").exists():
        return folder, mrc_dir, names, REAL_BOX, REAL_APIX
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        centres, score = read_box_file(box_dir / f"{name}.box")
        _write_set(folder, name, centres / BIN, np.nan_to_num(score), value_at(truth_mask(name), centres))
    (folder / "done").write_text("")
    return folder, mrc_dir, names, REAL_BOX, REAL_APIX


def truth_mask(name: str) -> np.ndarray:
    """The ground-truth particle mask of one EMPIAR-10017 micrograph (full
    resolution), flipped to the pickers' orientation: ``mask[y, x]``."""
    from PIL import Image

    return np.asarray(Image.open(REAL / "masks" / f"{name}_mask.jpg").convert("L"))[::-1] > 127


def value_at(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """``image`` at the pixel nearest each (x, y) centre, clipped to the image
    (on ``truth_mask``: the benchmark's label, True = P)."""
    ix = np.clip(np.round(xy[:, 0]).astype(int), 0, image.shape[1] - 1)
    iy = np.clip(np.round(xy[:, 1]).astype(int), 0, image.shape[0] - 1)
    return image[iy, ix]


def _real_micrograph(name: str, mrc_path: Path) -> None:
    """The flipped, 2x-binned MRC of one EMPIAR-10017 JPG (made once)."""
    import mrcfile
    from PIL import Image

    if mrc_path.exists():
        return
    img = np.asarray(Image.open(REAL / "images" / f"{name}.jpg").convert("L"), np.float32)[::-1]
    ny, nx = img.shape
    binned = img[: ny // BIN * BIN, : nx // BIN * BIN].reshape(ny // BIN, BIN, nx // BIN, BIN).mean((1, 3))
    tmp = mrc_path.with_suffix(".tmp")
    with mrcfile.new(tmp, overwrite=True) as mrc:
        mrc.set_data(binned.astype(np.float32))
        mrc.voxel_size = REAL_APIX
    os.replace(tmp, mrc_path)


def prepare_sim(level: str, n_micrographs: int = 12) -> tuple[Path, Path, list[str], int, float]:
    from unpicker.demo import DemoConfig, write_demo

    folder = OUT / "sim" / (level if n_micrographs == 12 else f"{level}-{n_micrographs}")
    cfg = DemoConfig.level(level)
    if not (folder / "done").exists():
        names = write_demo(folder, n_micrographs=n_micrographs, n_cleaned=0, level=level, seed=100)
        for name in names:   # rewrite into the common layout (truth + correct files made per run)
            t = read_star(folder / f"{name}_truth.star").blocks[0]
            xy = np.stack([t.floats("rlnCoordinateX"), t.floats("rlnCoordinateY")], 1)
            _write_set(folder, name, xy, t.floats("rlnAutopickFigureOfMerit"),
                       np.array(t.column("demoTruth")) == "P")
        (folder / "done").write_text("")
    names = sorted(p.name[: -len("_autopick.star")] for p in folder.glob("*_autopick.star"))
    return folder, folder, names, int(cfg.diameter_px * 1.5), cfg.apix


def _write_set(folder: Path, name: str, xy: np.ndarray, score: np.ndarray, truth: np.ndarray) -> None:
    rows = _rows(xy, score)
    atomic_write_text(folder / f"{name}_autopick.star", format_loop_block("", COLUMNS, rows))
    atomic_write_text(folder / f"{name}_truth.star",
                      format_loop_block("", COLUMNS + ["demoTruth"], [r + ["P" if t else "N"] for r, t in zip(rows, truth)]))


def prepare(dataset: str):
    if dataset in PICKERS:
        return prepare_real(dataset)
    _, level, *n = dataset.split("-")
    return prepare_sim(level, *map(int, n))


def split(dataset: str, names: list[str]) -> tuple[list[str], list[str]]:
    """The hand-cleaned and the held-out micrographs: the first 4 and the
    other 8, or for a large simulated set (``sim-hard-58``) all but the last 8
    and those."""
    if dataset.count("-") == 2:
        return names[:-8], names[-8:]
    return names[:N_CLEANED], names[N_CLEANED:]


# ---------------------------------------------------------------- scoring

def roc_auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    pos, neg = scores[truth], scores[~truth]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    # average ranks for ties
    _, inv, counts = np.unique(allv, return_inverse=True, return_counts=True)
    cum = np.cumsum(counts)
    avg = cum - (counts - 1) / 2.0
    ranks[order] = avg[inv]
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def prf(kept: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = int((kept & truth).sum())
    p = tp / kept.sum() if kept.sum() else 0.0
    r = tp / truth.sum() if truth.sum() else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def load_scores(work: Path, names: list[str], kept_suffix: str = "_autopick_unpick.star",
                rejected_suffix: str = "_rejected.star") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truth, score and kept flag of every pick of ``names``, from the kept and
    rejected outputs in the run folder ``work``."""
    truths, scores, kept = [], [], []
    for name in names:
        t = read_star(work / f"{name}_truth.star").blocks[0]
        xy = np.stack([t.floats("rlnCoordinateX"), t.floats("rlnCoordinateY")], 1)
        truth = np.array(t.column("demoTruth")) == "P"
        score = np.full(len(xy), np.nan)
        is_kept = np.zeros(len(xy), bool)
        for suffix, flag in ((kept_suffix, True), (rejected_suffix, False)):
            if suffix.endswith(".box"):     # a box file of full-size coordinates, our score its fifth column
                (out,) = read_coordinates(work / f"{name}{suffix}", CoordinateOptions(coord_scale=1 / BIN))
                out_xy, out_score = out.xy, out.fom
            else:
                out = read_picks(work / f"{name}{suffix}")
                out_xy = out.xy
                out_score = out.block.floats("unpickerScore") if len(out) else np.zeros(0)
            if len(out_xy) == 0:
                continue
            d = np.hypot(xy[:, None, 0] - out_xy[None, :, 0], xy[:, None, 1] - out_xy[None, :, 1])
            j = d.argmin(axis=1)
            hit = d[np.arange(len(xy)), j] < 0.01
            score[hit] = out_score[j[hit]]
            is_kept[hit] = flag
        assert not np.isnan(score).any(), f"{name}: a pick is in neither output"
        truths.append(truth), scores.append(score), kept.append(is_kept)
    return tuple(map(np.concatenate, (truths, scores, kept)))


def score_run(work: Path, names: list[str], suffixes: tuple[str, str] | None = None) -> dict:
    """Precision, recall, F1, ROC AUC and the keep-all figures on ``names``
    (``suffixes``: the kept and rejected outputs, if not the defaults)."""
    truth, score, kept = load_scores(work, names, *(suffixes or ()))
    p, r, f = prf(kept, truth)
    _, _, f_all = prf(np.ones_like(truth), truth)
    return {"precision": p, "recall": r, "f1": f, "auc": roc_auc(score, truth),
            "keep_all_f1": f_all, "keep_all_precision": float(truth.mean()), "picks": int(len(truth))}


# ---------------------------------------------------------------- runs

def run_once(dataset: str, network: str, seed: int, train_names: list[str], test_names: list[str],
             extra_train: list[str] | None = None, tag: str = "", route: str = "star",
             extra_eval: list[str] | None = None) -> dict:
    """One pipeline, as a user runs it. ``route`` ``box``: the real pickers'
    EMAN box files read as they are (full-size coordinates on the binned
    micrographs: ``--coord_scale 0.5``) instead of STAR files made from them."""
    folder, image_dir, _, box, apix = prepare(dataset)
    work = OUT / "runs" / f"{dataset}_{network}_s{seed}_n{len(train_names)}{tag}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in train_names + test_names:
        for suffix in ("_autopick.star", "_truth.star"):
            shutil.copy(folder / f"{name}{suffix}", work)
        if route == "box":
            shutil.copy(REAL / "picks" / PICKERS[dataset] / f"{name}.box", work / f"{name}.box")
    for name in train_names:   # the user's hand-cleaned copy: the true picks
        t = read_star(folder / f"{name}_truth.star").blocks[0]
        truth = [r[-1] == "P" for r in t.rows]
        if route == "box":   # the box file's rows, in the same order as the truth's
            rows = (REAL / "picks" / PICKERS[dataset] / f"{name}.box").read_text().splitlines()
            atomic_write_text(work / f"{name}_correct.box", "".join(r + "\n" for r, p in zip(rows, truth) if p))
        else:
            rows = [r[:-1] for r, p in zip(t.rows, truth) if p]
            atomic_write_text(work / f"{name}_autopick_correct.star", format_loop_block("", COLUMNS, rows))
    py = sys.executable
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    common = ["--image_dir", str(image_dir), "--num_cores", "2", "--no_progress"]
    t0 = time.perf_counter()
    picks = (["_autopick.star", "_autopick_correct.star"], [], ["--write_rejected", "_rejected.star"])
    if route == "box":
        scale = ["--coord_scale", str(1 / BIN)]
        picks = ([".box", "_correct.box"] + scale, [], ["--eval_root", ".box", "--write_rejected", "_rejected.box"]
                 + scale)
    steps = [
        [py, str(ROOT / "trainingSetFromStarFiles.py")] + picks[0][:2] + ["_autopick_train.star"] + picks[0][2:],
        [py, str(ROOT / "unpicker_train.py"), "--train_output", "model.out", "--boxsize", str(box),
         "--apix", str(apix), "--network", network, "--seed", str(seed), "--no_report"] + common
        + (extra_train or []),
        [py, str(ROOT / "unpicker_eval.py"), "--train_output", "model.out", "--histogram", "", "--no_report"]
        + picks[2] + common + (extra_eval or []),
    ]
    with open(work / "log.txt", "w") as log:
        for cmd in steps:
            r = subprocess.run(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT, env=env)
            if r.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd[1:3])} failed in {work} (see log.txt)")
    result = score_run(work, test_names, ("_unpick.box", "_rejected.box") if route == "box" else None)
    result.update(dataset=dataset, network=network, seed=seed, n_train=len(train_names),
                  seconds=time.perf_counter() - t0, extra=extra_train or [], route=route)
    for f in work.glob("model.out-*"):   # checkpoints are large and not needed afterwards
        f.unlink()
    return result


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
