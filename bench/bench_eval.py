"""Benchmark: evaluation speed on 4096x4096 micrographs with 300 picks each.

Filters on (lowpass 20 Å, highpass 500 Å, sigma contrast 3), boxsize 250 -> 32,
the default network (random weights: speed does not depend on them), 2 cores.
Reports micrographs/s for the whole evaluation (import time excluded), the
split between reading, preprocessing, extraction and the network, and the
floor: only reading and preprocessing the same micrographs (the Fourier
filters, sigma contrast and the micrograph's mean and standard deviation used
to standardise its boxes), as many threads.

The network runs as ``unpicker_eval.py`` runs it, with batch normalisation
folded into the convolutions (``--unfolded``: as separate layers, for
comparison) and in the arithmetic ``--precision auto`` picks for this CPU.

    .venv/bin/python bench/bench_eval.py [--micrographs 16] [--network resnet+seed] [--tta 4] [--repeats 3]
                                         [--precision auto|float32|bfloat16] [--unfolded] [--profile] [--report]

``--report`` times each evaluation also with the report, in turns, and
counts the CPU time of the report's own steps (during the run in the
threads that make them, and after it): a figure that the machine's other
work moves much less than the difference of two wall times.

``--profile`` also times each stage of one micrograph on its own (not
overlapped with the others), in CPU seconds of the whole process (best of
5), and reports each network's multiply-adds per box view and the rate it
computes them at, against one large matrix product in the same arithmetic:
how much of the network's time is arithmetic a faster evaluation would have
to remove.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as unpicker_eval.py sets it
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mrcfile  # noqa: E402
import numpy as np  # noqa: E402

from unpicker.files import atomic_write_text  # noqa: E402
from unpicker.formats.mrc import read_micrograph  # noqa: E402
from unpicker.formats.picks import CoordinateOptions, get_format, written_scores  # noqa: E402
from unpicker.guard import UNPICKED  # noqa: E402
from unpicker.formats.star import format_loop_block  # noqa: E402
from unpicker.images.preprocess import Preprocessing, preprocess_with_stats  # noqa: E402
from unpicker.networks.backend import PRECISIONS, describe_device, import_keras  # noqa: E402
from unpicker.unpicking import UnpickJob, unpick  # noqa: E402


def multiply_adds(model) -> int:
    """Multiply-adds of one forward pass of one box: convolutions (output
    pixels x output channels x kernel area x input channels) and dense layers."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            total += h * w * c_out * kh * kw * layer.input.shape[-1]
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)


PEAK_N = 2048


def matmul_rate(dtype: str) -> float:
    """Multiply-adds per CPU second of one large matrix product on the Keras
    backend, in ``dtype`` (best of 5): what dense arithmetic reaches here."""
    import keras

    rng = np.random.default_rng(0)
    a, b = (keras.ops.cast(rng.normal(size=(PEAK_N, PEAK_N)).astype(np.float32), dtype) for _ in range(2))
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
    times = []
    for _ in range(5):
        c0 = time.process_time()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
        times.append(time.process_time() - c0)
    return PEAK_N ** 3 / min(times)


def profile(job, settings, models, picks: int, precision: str) -> None:
    """CPU seconds of each stage of one micrograph (the process's CPU time, so
    the network's includes its TensorFlow threads), best of 5; the networks'
    multiply-add rates are per CPU second, i.e. per core."""
    from unpicker.formats.relion import read_picks
    from unpicker.images.boxes import area_weights, extract_boxes, normalise_boxes
    from unpicker.networks.scoring import particle_margin

    def best(f, n=5):
        times = []
        for _ in range(n):
            c0 = time.process_time()
            out = f()
            times.append(time.process_time() - c0)
        return min(times), out

    stages = {}
    stages["read picks"], xy = best(lambda: read_picks(job.picks_path).xy)
    stages["read micrograph"], image = best(lambda: read_micrograph(job.mrc_path)[0])
    stages["preprocess"], (processed, mean, sd) = best(lambda: preprocess_with_stats(image, settings))
    stages["extraction weights"], _ = best(lambda: [area_weights(xy[:, i] - settings.boxsize_px / 2, settings.boxsize_px,
                                                                 settings.resized_px) for i in (0, 1)])
    stages["extraction (with weights)"], boxes = best(lambda: extract_boxes(processed, xy, settings.boxsize_px,
                                                                            settings.resized_px, fill=mean))
    stages["normalisation"], _ = best(lambda: normalise_boxes(boxes.copy(), mean, sd))
    rates = []
    for model, shift, views in models:
        particle_margin(model, boxes, symmetries=views)
        t, _ = best(lambda: particle_margin(model, boxes, symmetries=views), 7)
        macs = multiply_adds(model)
        stages[f"network {model.name} ({len(views)} views)"] = t
        rates.append(f"{model.name} {macs / 1e6:.2f} M multiply-adds per view, {picks * len(views) * macs / t / 1e9:.0f} G per CPU-second")
    print(f"profile, one micrograph ({picks} picks), CPU seconds of the whole process, best of 5:")
    for k, v in stages.items():
        print(f"  {k:32s} {v:.4f}")
    print("  networks: " + "; ".join(rates))
    print(f"  one {PEAK_N}x{PEAK_N} matrix product in the networks' arithmetic: "
          f"{matmul_rate(precision) / 1e9:.0f} G multiply-adds per CPU-second")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--micrographs", type=int, default=16)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--picks", type=int, default=300)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--network", default="resnet+seed",
                    help="resnet+seed (the default: each network on half the views), resnet or seed")
    ap.add_argument("--repeats", type=int, default=3, help="floor and evaluation runs (alternating; best of each)")
    ap.add_argument("--tta", type=int, default=4, choices=[1, 4, 8], help="test-time symmetries")
    ap.add_argument("--unfolded", action="store_true",
                    help="keep batch normalisation as its own layers (for comparison)")
    ap.add_argument("--precision", default="auto", choices=PRECISIONS,
                    help="the network's arithmetic, as unpicker_eval.py --precision")
    ap.add_argument("--report", action="store_true",
                    help="also time each evaluation with the report (unpicker_eval.py's default), alternating")
    ap.add_argument("--profile", action="store_true",
                    help="also: each stage of one micrograph on its own, and the networks' multiply-add rates")
    args = ap.parse_args()

    import_keras()
    from unpicker.networks.architectures import build_network, inference_network
    from unpicker.networks.backend import configure, resolve_precision
    from unpicker.networks.scoring import ensemble_probability, member_views

    configure(args.cores, 0)
    precision = resolve_precision(args.precision)
    if args.unfolded and precision != "float32":
        ap.error("--unfolded measures the float32 network of before; add --precision float32")
    # one network, or an ensemble's members (resnet+seed), as unpicker_eval.py runs them
    names = args.network.split("+")
    models = [(build_network(name, 32), 0.0, member_views(args.tta, i, len(names))) for i, name in enumerate(names)]
    if not args.unfolded:
        models = [(inference_network(m, precision), shift, views) for m, shift, views in models]

    def classify(boxes):
        return ensemble_probability(models, boxes)
    settings = Preprocessing(boxsize_px=250, resized_px=32, apix=1.0, lowpass_A=20, highpass_A=500, sigma_contrast=3)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        jobs = []
        for i in range(args.micrographs):
            name = f"mic{i:03d}"
            with mrcfile.new(folder / f"{name}.mrc") as mrc:
                mrc.set_data(rng.normal(size=(args.size, args.size)).astype(np.float32))
            xy = rng.uniform(0, args.size, size=(args.picks, 2))
            rows = [[f"{x:.6f}", f"{y:.6f}", "0.5", "0", "-999.0"] for x, y in xy]
            atomic_write_text(folder / f"{name}_autopick.star", format_loop_block(
                "", ["rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit", "rlnClassNumber",
                     "rlnAnglePsi"], rows))
            jobs.append(UnpickJob(name, folder / f"{name}_autopick.star", folder / f"{name}.mrc",
                                folder / f"{name}_autopick_unpick.star"))
        classify(np.zeros((4, 32, 32), np.float32))   # warm up the graph

        def floor_one(job):
            image, _ = read_micrograph(job.mrc_path)
            return preprocess_with_stats(image, settings)[1:]

        def write(job, picks, prob):
            keep = written_scores(prob) >= 0.5
            get_format("relion").write(job.output_path, [(picks, keep, prob)], CoordinateOptions(), UNPICKED, "bench")
            return keep

        # floor and evaluation alternately, best of each (the machine is shared and noisy); with --report,
        # the evaluation with and without it in turns, each first every other repeat (the second of two
        # identical runs measured 5% slower here)
        floors, runs, cpu, reported, cpu_reported, own_cpu = [], [], {"floor": [], "evaluation": []}, [], [], []

        def plain() -> None:
            for job in jobs:
                job.output_path.unlink(missing_ok=True)
            c0 = time.process_time()
            runs.append(unpick(jobs, settings, classify, write, args.cores, out=io.StringIO(), progress=False))
            cpu["evaluation"].append(time.process_time() - c0)

        def reporting() -> None:
            for job in jobs:
                job.output_path.unlink(missing_ok=True)
            shutil.rmtree(folder / "report", ignore_errors=True)
            c0 = time.process_time()
            seconds, report_cpu = with_report(jobs, settings, classify, write, args.cores, folder / "report")
            reported.append(seconds)
            cpu_reported.append(time.process_time() - c0)
            own_cpu.append(report_cpu / (cpu_reported[-1] - report_cpu))

        for repeat in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            with ThreadPoolExecutor(args.cores) as pool:
                list(pool.map(floor_one, jobs))
            floors.append(time.perf_counter() - t0)
            cpu["floor"].append(time.process_time() - c0)
            for run in ([plain, reporting] if repeat % 2 == 0 else [reporting, plain]) if args.report else [plain]:
                run()
        floor = min(floors)
        s = min(runs, key=lambda r: r.seconds)
        if args.profile:
            profile(jobs[0], settings, models, args.picks, precision)
    n = s.micrographs
    print(f"evaluation: {n} micrographs in {s.seconds:.2f} s = {n / s.seconds:.2f} micrographs/s"
          f" ({args.network}{', unfolded' if args.unfolded else ''}, {precision}, tta {args.tta}, {args.cores} cores, {args.picks} picks each;"
          f" network: {describe_device(args.cores)})")
    worker = sum(v for k, v in s.timings.items() if k in ("read", "preprocess", "extract"))
    print("time per micrograph: " + ", ".join(f"{k} {v / n:.3f} s" for k, v in s.timings.items())
          + f"  (reading, preprocessing and extraction run in {args.cores} worker threads; {worker / n:.3f} s of worker time)")
    print(f"floor (read + preprocess only, {args.cores} threads): {floor:.2f} s = {n / floor:.2f} micrographs/s")
    print("CPU time per micrograph (all threads, least of the runs): " + ", ".join(
        f"{k} {min(v) / n:.3f} s" for k, v in cpu.items()) + f"; ratio {min(cpu['evaluation']) / min(cpu['floor']):.2f}")
    print(f"evaluation / floor = {s.seconds / floor:.2f}  (target <= 2); target >= 2 micrographs/s:"
          f" {'met' if n / s.seconds >= 2 else 'NOT met'}")
    if reported:
        best = min(reported)
        pairs = [w / r.seconds for r, w in zip(runs, reported)]
        print(f"with the report (12 micrographs drawn, galleries, index.html): {best:.2f} s, "
              f"{100 * (best / s.seconds - 1):+.1f}% (target <= +10%); median of the runs' ratios "
              f"{100 * (float(np.median(pairs)) - 1):+.1f}%; CPU time (least of the runs) "
              f"{100 * (min(cpu_reported) / min(cpu['evaluation']) - 1):+.1f}%; each run (without / with): "
              + ", ".join(f"{r.seconds:.2f} / {w:.2f} s" for r, w in zip(runs, reported)))
        print(f"the report's own steps (CPU time in the threads that run them, and after the run): median "
              f"{100 * float(np.median(own_cpu)):+.1f}% of the rest of the run's CPU time (runs: "
              + ", ".join(f"{100 * x:.1f}%" for x in own_cpu) + ")")


def with_report(jobs, settings, classify, write, cores: int, folder: Path) -> tuple[float, float]:
    """Unpick ``jobs`` and write the report as unpicker_eval.py does. Returns
    the seconds it took and the CPU seconds of the report's own steps (its
    calls during the run, timed in the threads that make them, and what
    follows the run)."""
    import threading

    from unpicker.report.unpicking import (Collector, choose_overlays, draw_overlays, flag_unusual, sample_names,
                                           write_report)

    own, lock = [0.0], threading.Lock()

    def timed(f):
        def call(*args):
            c0 = time.thread_time()
            out = f(*args)
            with lock:
                own[0] += time.thread_time() - c0
            return out
        return call

    t0 = time.perf_counter()
    names = [j.name for j in jobs]
    collector = Collector(folder, 0.5, sample_names(names, 12), settings.boxsize_px)
    s = unpick(jobs, settings, classify, write, cores, out=io.StringIO(), progress=False,
               image_for=timed(collector.view),
               on_scored=timed(lambda job, picks, boxes, prob: collector.scored(job.name, picks.xy, boxes, prob)))
    c0 = time.process_time()
    records = {n: {"scores": [float(x) for x in written_scores(p)], "kept": [bool(k) for k in kept]}
               for n, p, kept in zip(s.names, s.scores, s.kept)}
    chosen = choose_overlays(names, records, flag_unusual(records, 0.5), collector.sample, 12)
    views, xy = draw_overlays(folder, chosen, {j.name: j for j in jobs}, settings.boxsize_px, workers=cores,
                              drawn=collector.drawn())
    write_report(folder, {"Picks from": "bench"}, records, names, 0.5, views, xy, collector.galleries(),
                 settings.boxsize_px, {"kind": "command", "template": "unpicker_eval.py --threshold {T}"})
    return time.perf_counter() - t0, own[0] + time.process_time() - c0


if __name__ == "__main__":
    main()
