"""Evidence on label noise in the EMPIAR-10017 benchmark.

For each picker: how far the centres of picks labelled N (off the mask) lie
from the nearest masked pixel (1.77 Å/px; particle radius about 54 px), and a
gallery of random crYOLO picks labelled P and N, from the same binned
micrographs the benchmark uses (bench/out/real/mrc, made by bench/accuracy.py).

    .venv/bin/python bench/label_noise.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from accuracy import BIN, OUT, PICKERS, REAL, prepare_real  # noqa: E402
from unpicker.boxes import extract_boxes  # noqa: E402
from unpicker.coords import read_box_file  # noqa: E402
from unpicker.mrcio import read_micrograph  # noqa: E402

RADIUS_PX = 54


def main() -> None:
    print("| picker | picks labelled N | median distance to mask (px) | within half a radius | within a radius | beyond a diameter |")
    print("|---|---|---|---|---|---|")
    for picker, folder in PICKERS.items():
        d = []
        for box in sorted((REAL / "picks" / folder).glob("*.box")):
            mask = np.asarray(Image.open(REAL / "masks" / f"{box.stem}_mask.jpg").convert("L"))[::-1] > 127
            dist = ndimage.distance_transform_edt(~mask)
            c, _ = read_box_file(box)
            ix = np.clip(np.round(c[:, 0]).astype(int), 0, mask.shape[1] - 1)
            iy = np.clip(np.round(c[:, 1]).astype(int), 0, mask.shape[0] - 1)
            d.append(dist[iy, ix])
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


if __name__ == "__main__":
    main()
