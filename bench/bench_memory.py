"""Benchmark: peak memory of unpicking one 4096x4096 micrograph against its number of picks.

For each pick count, a fresh process writes a micrograph, a coordinate file
with that many picks (uniform over the micrograph) and a model with the
default networks (random weights: memory does not depend on them), then
runs ``unpicker_eval.py`` on them and reports its peak resident memory. The
difference between counts, per pick, is what each pick costs; the boxes
given to the network take 4 KiB each (32 x 32 float32).

    .venv/bin/python bench/bench_memory.py [--picks 2000 32000 160000] [--size 4096]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(folder: Path, picks: int, size: int) -> None:
    """In the measured process: make the inputs, then unpick."""
    sys.path.insert(0, str(ROOT))
    import mrcfile
    import numpy as np

    from unpicker.formats.star import format_loop_block
    from unpicker.images.preprocess import Preprocessing
    from unpicker.networks.backend import import_keras
    from unpicker.networks.model_file import ModelInfo

    rng = np.random.default_rng(0)
    with mrcfile.new(folder / "mic.mrc", overwrite=True) as mrc:
        mrc.set_data(rng.normal(size=(size, size)).astype(np.float32))
    xy = rng.uniform(0, size, size=(picks, 2))
    (folder / "mic_autopick.star").write_text(format_loop_block(
        "", ["rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit"],
        ([f"{x:.2f}", f"{y:.2f}", "0.5"] for x, y in xy)))
    del xy
    import_keras()
    from unpicker.networks.architectures import build_network
    from unpicker.training.checkpoints import save_model

    settings = Preprocessing(boxsize_px=250, resized_px=32)
    save_model(folder / "m.out", [(n, build_network(n, 32)) for n in ("resnet", "seed")],
               ModelInfo("resnet+seed", settings, threshold=0.5))
    from unpicker.commands import unpick

    os.chdir(folder)
    rc = unpick.main(["--train_output", "m.out", "--num_cores", "2", "--no_progress", "--histogram", ""])
    print("PEAK_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    sys.exit(rc)


def measure(picks: int, size: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([sys.executable, __file__, "--child", d, str(picks), str(size)],
                           capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        if r.returncode != 0:
            raise SystemExit(f"{picks} picks: unpicker_eval.py failed:\n{r.stderr[-2000:]}")
        peak_kib = int(r.stdout.split("PEAK_KIB")[-1].split()[0])
        return {"picks": picks, "peak_MiB": peak_kib / 1024}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--picks", nargs="+", type=int, default=[2000, 32000, 160000])
    ap.add_argument("--size", type=int, default=4096)
    args = ap.parse_args()
    rows = [measure(n, args.size) for n in sorted(args.picks)]
    base = rows[0]
    print(f"unpicking one {args.size}x{args.size} micrograph (resnet+seed, boxsize 250 -> 32, 2 cores):")
    for r in rows:
        extra = ""
        if r is not base:
            per_pick = (r["peak_MiB"] - base["peak_MiB"]) * 1024 / (r["picks"] - base["picks"])
            extra = f"  (+{per_pick:.1f} KiB per pick above {base['picks']} picks; the boxes are 4.0)"
        print(f"  {r['picks']:7d} picks: peak {r['peak_MiB']:7.0f} MiB{extra}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
