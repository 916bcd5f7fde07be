"""Benchmark: unpicking in parts (``--shard I/N``) against one run, and the
wall time of a large data set on a cluster, projected from what a
micrograph costs here.

Writes a RELION-style folder of micrographs (4096x4096, 300 picks each) and
a model with the default networks (random weights: speed does not depend on
them), then times, as a user runs them:

1. one ``unpicker_eval.py`` with every core (``--num_cores`` = the cores);
2. the same micrographs as N parts run at once, each with cores / N
   (``--shard 1/N`` ... ``--shard N/N``), the last part writing the list;

both wall times including each process's start (Python, TensorFlow, the
model). The projection for M micrographs on K nodes like this machine: one
start, then M / K micrographs at the measured rate of one whole run.

    .venv/bin/python bench/bench_shards.py [--micrographs 24] [--parts 2] [--project 10000 50]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_inputs(folder: Path, n: int, size: int, picks: int) -> None:
    import mrcfile
    import numpy as np

    from unpicker.formats.star import format_loop_block
    from unpicker.images.preprocess import Preprocessing
    from unpicker.networks.backend import import_keras
    from unpicker.networks.model_file import ModelInfo

    rng = np.random.default_rng(0)
    for i in range(n):
        with mrcfile.new(folder / f"mic{i:04d}.mrc", overwrite=True) as mrc:
            mrc.set_data(rng.normal(size=(size, size)).astype(np.float32))
        xy = rng.uniform(0, size, size=(picks, 2))
        (folder / f"mic{i:04d}_autopick.star").write_text(format_loop_block(
            "", ["rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit"],
            ([f"{x:.2f}", f"{y:.2f}", "0.5"] for x, y in xy)))
    import_keras()
    from unpicker.networks.architectures import build_network
    from unpicker.training.checkpoints import save_model

    save_model(folder / "m.out", [(name, build_network(name, 32)) for name in ("resnet", "seed")],
               ModelInfo("resnet+seed", Preprocessing(boxsize_px=250, resized_px=32, apix=1.0, lowpass_A=20,
                                                      highpass_A=500, sigma_contrast=3), threshold=0.5))


def run(folder: Path, parts: int, cores: int) -> float:
    """Wall seconds for every part to finish (each its own process)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for f in folder.glob("*_autopick_unpick.star"):
        f.unlink()
    base = [sys.executable, str(ROOT / "unpicker_eval.py"), "--train_output", "m.out", "--eval_file", "mics.star",
            "--histogram", "", "--no_report", "--no_progress"]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(base + ["--num_cores", str(max(1, cores // parts))]
                              + (["--shard", f"{i}/{parts}"] if parts > 1 else []),
                              cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in range(1, parts + 1)]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"unpicker_eval.py failed:\n{err[-2000:]}")
    seconds = time.perf_counter() - t0
    if not (folder / "mics_unpick.star").exists():
        raise SystemExit("no list of unpicked files was written")
    (folder / "mics_unpick.star").unlink()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--micrographs", type=int, default=24)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--picks", type=int, default=300)
    ap.add_argument("--parts", type=int, default=2)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--project", nargs=2, type=int, default=[10000, 50], metavar=("MICROGRAPHS", "NODES"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        make_inputs(folder, args.micrographs, args.size, args.picks)
        from unpicker.formats.relion import new_coordinate_list_text

        names = [f"mic{i:04d}" for i in range(args.micrographs)]
        (folder / "mics.star").write_text(new_coordinate_list_text([f"{n}.mrc" for n in names],
                                                                   [f"{n}_autopick.star" for n in names]))
        start = run_startup(folder)
        whole = run(folder, 1, args.cores)
        parts = run(folder, args.parts, args.cores)
    rate = args.micrographs / (whole - start)
    m, k = args.project
    print(f"{args.micrographs} micrographs {args.size}x{args.size}, {args.picks} picks each, {args.cores} cores, "
          f"resnet+seed; wall time including each process's start ({start:.1f} s here):")
    print(f"  one run, {args.cores} cores:                {whole:6.1f} s")
    print(f"  {args.parts} parts at once, {max(1, args.cores // args.parts)} core(s) each:  {parts:6.1f} s "
          f"({parts / whole:.2f}x one run)")
    print(f"  rate of one run after its start: {rate:.2f} micrographs/s")
    print(f"projection: {m} micrographs on {k} nodes like this one: {m // k} each, "
          f"{start + m / k / rate:.0f} s = {(start + m / k / rate) / 60:.1f} min (one node: {m / rate / 3600:.1f} h)")


def run_startup(folder: Path) -> float:
    """A process's start alone: unpicking a list with no micrograph to do
    (every output already written is skipped), measured once."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from unpicker.networks.backend import import_keras; import_keras()"],
                   cwd=ROOT, env=env, check=True)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
