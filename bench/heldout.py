"""The accuracy benchmarks' data sets and runs (used by bench/accuracy.py
and bench/suggest_loop.py; not a benchmark itself).

Data sets: EMPIAR-10017's twelve micrographs with the real pickers' picks
(``../shared/data/empiar10017``: the JPGs flipped, binned 2x to 2048x2048,
3.54 Å/px; picks are EMAN box centres, box 180 px -> 90 binned; truth: the
centre lies on the ground-truth mask) and the demo generator's simulated
sets (``sim-medium``, ``sim-hard``, ``sim-lowsnr``; ``sim-hard-58``: 58
micrographs). :func:`run_once` runs the three commands as a user runs them
(in subprocesses, the benchmark's truth playing the user who cleans) and
:func:`score_run` scores the held-out micrographs: precision, recall and F1
of the kept picks, ROC AUC of the written scores.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
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
from unpicker.training.threshold import roc_auc  # noqa: E402

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

def prf(kept: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = int((kept & truth).sum())
    p = tp / kept.sum() if kept.sum() else 0.0
    r = tp / truth.sum() if truth.sum() else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def load_scores(work: Path, names: list[str], kept_suffix: str = "_autopick_unpick.star",
                rejected_suffix: str = "_rejected.star") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truth, score and kept flag of every pick of ``names``, from the kept and
    rejected outputs in the run folder ``work`` (a suffix may lead with a
    folder: ``EMAN/_unpick.box`` is ``work/EMAN/<name>_unpick.box``)."""
    truths, scores, kept = [], [], []
    for name in names:
        t = read_star(work / f"{name}_truth.star").blocks[0]
        xy = np.stack([t.floats("rlnCoordinateX"), t.floats("rlnCoordinateY")], 1)
        truth = np.array(t.column("demoTruth")) == "P"
        score = np.full(len(xy), np.nan)
        is_kept = np.zeros(len(xy), bool)
        for suffix, flag in ((kept_suffix, True), (rejected_suffix, False)):
            folder, _, suffix = suffix.rpartition("/")
            path = work / folder / f"{name}{suffix}"
            if suffix.endswith(".box"):     # a box file of full-size coordinates, our score its fifth column
                (out,) = read_coordinates(path, CoordinateOptions(coord_scale=1 / BIN))
                out_xy, out_score = out.xy, out.fom
            else:
                out = read_picks(path)
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
    micrographs: ``--coord_scale 0.5``) instead of STAR files made from them,
    in ``EMAN/`` and the cleaned copies in ``EMAN_cleaned/``, as the README
    shows crYOLO's."""
    folder, image_dir, _, box, apix = prepare(dataset)
    work = OUT / "runs" / f"{dataset}_{network}_s{seed}_n{len(train_names)}{tag}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in train_names + test_names:
        for suffix in ("_autopick.star", "_truth.star"):
            shutil.copy(folder / f"{name}{suffix}", work)
        if route == "box":
            (work / "EMAN").mkdir(exist_ok=True)
            shutil.copy(REAL / "picks" / PICKERS[dataset] / f"{name}.box", work / "EMAN" / f"{name}.box")
    for name in train_names:   # the user's hand-cleaned copy: the true picks
        t = read_star(folder / f"{name}_truth.star").blocks[0]
        truth = [r[-1] == "P" for r in t.rows]
        if route == "box":   # the box file's rows, in the same order as the truth's
            rows = (REAL / "picks" / PICKERS[dataset] / f"{name}.box").read_text().splitlines()
            (work / "EMAN_cleaned").mkdir(exist_ok=True)
            atomic_write_text(work / "EMAN_cleaned" / f"{name}.box", "".join(r + "\n" for r, p in zip(rows, truth) if p))
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
        picks = (["EMAN/.box", "EMAN_cleaned/.box"] + scale, [],
                 ["--eval_root", "EMAN/.box", "--write_rejected", "_rejected.box"] + scale)
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
    result = score_run(work, test_names, ("EMAN/_unpick.box", "EMAN/_rejected.box") if route == "box" else None)
    result.update(dataset=dataset, network=network, seed=seed, n_train=len(train_names),
                  seconds=time.perf_counter() - t0, extra=extra_train or [], route=route)
    for f in work.glob("model.out-*"):   # checkpoints are large and not needed afterwards
        f.unlink()
    return result
