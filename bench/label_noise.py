"""Evidence on label noise in the EMPIAR-10017 benchmark.

For each picker: how far the centres of picks labelled N (off the mask) lie
from the nearest masked pixel (1.77 Å/px; particle radius about 54 px), and a
gallery of random crYOLO picks labelled P and N, from the same binned
micrographs the benchmark uses (bench/out/real/mrc, made by bench/accuracy.py).

With the resnet network's benchmark runs present (the default when this was
written; bench/out/runs/<picker>_resnet_s{0,1,2}_n4,
from ``bench/accuracy.py``), also the confident errors on the held-out
micrographs: how dark the centre of each pick is (particles are dark here)
for P, N and the N picks the network scores highest and lowest, and a gallery
of the highest-scored N and lowest-scored P picks with the mask drawn on them.

    .venv/bin/python bench/label_noise.py
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from accuracy import BIN, OUT, PICKERS, REAL, prepare_real, truth_mask, value_at  # noqa: E402
from unpicker.boxes import extract_boxes  # noqa: E402
from unpicker.coords import read_box_file  # noqa: E402
from unpicker.mrcio import read_micrograph  # noqa: E402

RADIUS_PX = 54
CORE_PX = 12          # binned pixels: the dark core of a particle, about 85 Å across


def main() -> None:
    print("| picker | picks labelled N | median distance to mask (px) | within half a radius | within a radius | beyond a diameter |")
    print("|---|---|---|---|---|---|")
    for picker, folder in PICKERS.items():
        d = []
        for box in sorted((REAL / "picks" / folder).glob("*.box")):
            dist = ndimage.distance_transform_edt(~truth_mask(box.stem))
            d.append(value_at(dist, read_box_file(box)[0]))
        n = np.concatenate(d)
        n = n[n > 0]
        print(f"| {picker} | {len(n)} | {np.median(n):.0f} | {100 * (n < RADIUS_PX / 2).mean():.0f}% |"
              f" {100 * (n < RADIUS_PX).mean():.0f}% | {100 * (n > 2 * RADIUS_PX).mean():.0f}% |")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder, mrc_dir, names, box, _ = prepare_real("crYOLO")
    rng = np.random.default_rng(0)
    from unpicker.star import read_star

    fig, axes = plt.subplots(4, 12, figsize=(12, 4.4))
    for row, label in enumerate(("P", "P", "N", "N")):
        for col in range(12):
            name = names[rng.integers(len(names))]
            t = read_star(folder / f"{name}_truth.star").blocks[0]
            xy = np.stack([t.floats("rlnCoordinateX"), t.floats("rlnCoordinateY")], 1)
            sel = np.flatnonzero(np.array(t.column("demoTruth")) == label)
            image, _ = read_micrograph(mrc_dir / f"{name}.mrc")
            b = extract_boxes(image, xy[[rng.choice(sel)]], box, box)[0]
            ax = axes[row, col]
            ax.imshow(b, cmap="gray")
            ax.set_xticks([]), ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(label, rotation=0, labelpad=10, fontsize=14)
    fig.suptitle(f"crYOLO picks on EMPIAR-10017 ({BIN}x binned, box {box} px): rows P (on the mask), N (off it)")
    fig.tight_layout()
    out = HERE / "crYOLO_gallery.png"
    fig.savefig(out, dpi=70)
    print(f"gallery: {out.relative_to(HERE.parent)}")
    confident_errors()


def _held_out(picker: str):
    """Held-out picks of ``picker``: micrograph names, binned xy, truth, and the
    resnet network's score averaged over the three benchmark seeds (None when
    the runs are missing)."""
    from accuracy import N_CLEANED, load_scores
    from unpicker.star import read_star

    folder, mrc_dir, names, box, _ = prepare_real(picker)
    test = names[N_CLEANED:]
    runs = [OUT / "runs" / f"{picker}_resnet_s{s}_n4" for s in range(3)]
    if not all(r.exists() for r in runs):
        return None
    loaded = [load_scores(r, test) for r in runs]
    which, xy = [], []
    for name in test:
        t = read_star(folder / f"{name}_truth.star").blocks[0]
        xy.append(np.stack([t.floats("rlnCoordinateX"), t.floats("rlnCoordinateY")], 1))
        which += [name] * len(xy[-1])
    score = np.mean([s for _, s, _ in loaded], axis=0)
    return np.array(which), np.concatenate(xy), loaded[0][0], score, mrc_dir, box


@functools.lru_cache(maxsize=None)
def _micrograph(path: Path) -> np.ndarray:
    """A binned benchmark micrograph, read once (the pickers share them)."""
    return read_micrograph(path)[0]


@functools.lru_cache(maxsize=None)
def _binned_mask(name: str) -> np.ndarray:
    """The ground-truth mask of ``name``, flipped like the images and binned like them."""
    return truth_mask(name)[::BIN, ::BIN].astype(np.float32)


def _centre_darkness(mrc_dir: Path, which: np.ndarray, xy: np.ndarray, box: int) -> np.ndarray:
    """Mean of each box minus the mean of its central disc (radius CORE_PX), in
    units of the micrograph's standard deviation: larger is a darker centre."""
    yy, xx = np.mgrid[:box, :box] - (box - 1) / 2
    core = np.hypot(yy, xx) < CORE_PX
    out = np.empty(len(xy))
    for name in np.unique(which):
        sel = which == name
        image = _micrograph(mrc_dir / f"{name}.mrc")
        b = extract_boxes((image - image.mean()) / image.std(), xy[sel], box, box)
        out[sel] = b.mean(axis=(1, 2)) - b[:, core].mean(axis=1)
    return out


def confident_errors() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from accuracy import roc_auc

    data = {p: _held_out(p) for p in PICKERS}
    if any(v is None for v in data.values()):
        print("confident errors: the resnet network's benchmark runs are missing "
              "(run bench/accuracy.py --networks resnet)")
        return
    print("\n| picker | P | N | N, top 10% by score | N, bottom 10% | share of N as dark as P's darkest 75% (all / top / bottom) | ROC AUC of darkness |")
    print("|---|---|---|---|---|---|---|")
    show = 10
    fig, axes = plt.subplots(2 * len(PICKERS), show, figsize=(show * 1.3, 2 * len(PICKERS) * 1.45))
    for r, (picker, (which, xy, truth, score, mrc_dir, box)) in enumerate(data.items()):
        dark = _centre_darkness(mrc_dir, which, xy, box)
        n_idx, p_idx = np.flatnonzero(~truth), np.flatnonzero(truth)
        k = len(n_idx) // 10
        top, bottom = n_idx[np.argsort(-score[n_idx])[:k]], n_idx[np.argsort(score[n_idx])[:k]]
        q = np.percentile(dark[truth], 25)
        print(f"| {picker} | {np.median(dark[truth]):.2f} | {np.median(dark[~truth]):.2f} | {np.median(dark[top]):.2f} |"
              f" {np.median(dark[bottom]):.2f} | {100 * (dark[~truth] > q).mean():.0f}% / {100 * (dark[top] > q).mean():.0f}%"
              f" / {100 * (dark[bottom] > q).mean():.0f}% | {roc_auc(dark, truth):.3f} |")
        rows = ((f"{picker}: N,\nhighest", top[:show]), (f"{picker}: P,\nlowest", p_idx[np.argsort(score[p_idx])[:show]]))
        for i, (label, sel) in enumerate(rows):
            for c, j in enumerate(sel):
                view = int(1.4 * box)
                b = extract_boxes(_micrograph(mrc_dir / f"{which[j]}.mrc"), xy[[j]], view, view)[0]
                m = extract_boxes(_binned_mask(which[j]), xy[[j]], view, view)[0]
                ax = axes[2 * r + i, c]
                ax.imshow(b, cmap="gray")
                ax.contour(m, [0.5], colors="r", linewidths=0.6)
                ax.plot([(view - 1) / 2], [(view - 1) / 2], "y+", ms=6)
                ax.set_title(f"{score[j]:.2f}", fontsize=7)
                ax.set_xticks([]), ax.set_yticks([])
                if c == 0:
                    ax.set_ylabel(label, fontsize=8)
    fig.suptitle("Held-out picks the default network gets most wrong (score: mean of 3 seeds); "
                 "red: the ground-truth mask; +: the pick", fontsize=9)
    fig.tight_layout()
    out = HERE / "confident_errors.png"
    fig.savefig(out, dpi=70)
    print(f"gallery: {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
