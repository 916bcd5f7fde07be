"""Unpicking: every micrograph's picks classified with a trained model, and
the kept ones written (:mod:`.outputs`).

Micrographs are read, preprocessed and cut into boxes in ``num_cores``
worker threads (numpy and scipy.fft release the GIL) while the main thread
classifies the boxes of the micrographs already prepared and writes their
outputs; at most ``num_cores + 1`` micrographs are held at once, so memory
stays flat however many there are.
"""
from __future__ import annotations

import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

import numpy as np

from .formats.mrc import MicrographError, blank_warning, read_micrograph
from .formats.picks import MicrographPicks, read_coordinates
from .formats.star import StarError
from .images.boxes import box_too_large, outside_warning, processed_boxes
from .images.ctf import CtfParams
from .images.preprocess import Preprocessing, preprocess_with_stats


@dataclass
class UnpickJob:
    """One micrograph to unpick: its picks, its image and the outputs' paths.

    ``load()`` gives its picks (by default: the one-micrograph coordinate
    file ``picks_path``, its format recognised); ``output_path`` is where its
    kept picks go (for a file that holds every micrograph, that file)."""

    name: str
    picks_path: Path
    mrc_path: Path
    output_path: Path
    rejected_path: Path | None = None
    load: Callable[[], MicrographPicks] | None = None

    def picks(self) -> MicrographPicks:
        if self.load is not None:
            return self.load()
        (picks,) = read_coordinates(self.picks_path, name=self.name)
        return picks


@dataclass
class UnpickSummary:
    """What a run did: counts, the micrographs that failed, every score, and where the time went."""

    micrographs: int = 0
    failed: list[str] = field(default_factory=list)
    picks_in: int = 0
    picks_kept: int = 0
    seconds: float = 0.0
    scores: list[np.ndarray] = field(default_factory=list)
    names: list[str] = field(default_factory=list)      # the micrographs unpicked, as ``scores``
    kept: list[np.ndarray] = field(default_factory=list)     # per micrograph: which picks were kept
    images: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "preprocess": 0.0, "extract": 0.0, "network": 0.0,
                                                                 "write": 0.0})


def _prepare(job: UnpickJob, settings: Preprocessing, ctfs: dict[str, CtfParams] | None,
             fill_nonfinite: bool = False, image_for=None):
    """Worker: read picks and micrograph, return (picks, boxes, seconds reading,
    preprocessing and extracting, warnings, what ``image_for`` kept)."""
    t0 = time.perf_counter()
    picks = job.picks()
    image, _ = read_micrograph(job.mrc_path, fill_nonfinite) if len(picks) else (None, None)
    t1 = time.perf_counter()
    ctf = None
    if settings.ctf_flip:
        ctf = (ctfs or {}).get(job.name)
        if ctf is None:
            raise MicrographError(f"{job.name}: not in the CTF file")
    warnings = []
    if len(picks):
        too_large = box_too_large(image.shape, settings.boxsize_px, str(job.mrc_path))
        if too_large:
            raise MicrographError(too_large)
        warnings = [w for w in (blank_warning(image, job.mrc_path), outside_warning(
            picks.xy, image.shape, picks.source, job.mrc_path.name, picks.row_lines)) if w]
        processed, mean, sd = preprocess_with_stats(image, settings, ctf)
        t2 = time.perf_counter()
        boxes = processed_boxes(processed, mean, sd, picks.xy, settings)
    else:
        t2 = t1
        boxes = np.zeros((0, settings.resized_px, settings.resized_px), np.float32)
    t3 = time.perf_counter()
    kept_image = image_for(job, image, picks.xy) if image_for is not None and image is not None else None
    return picks, boxes, (t1 - t0, t2 - t1, t3 - t2), warnings, kept_image


def unpick(jobs: list[UnpickJob], settings: Preprocessing, classify: Callable[[np.ndarray], np.ndarray],
           write: Callable[[UnpickJob, MicrographPicks, np.ndarray], np.ndarray], num_cores: int = 2,
           ctfs: dict[str, CtfParams] | None = None, out: TextIO = sys.stdout, progress: bool = True,
           fill_nonfinite: bool = False, on_done: Callable[[UnpickSummary], None] | None = None,
           image_for: Callable[[UnpickJob, np.ndarray, np.ndarray], object] | None = None,
           on_scored: Callable[[UnpickJob, MicrographPicks, np.ndarray, np.ndarray], None] | None = None
           ) -> UnpickSummary:
    """Unpick every job: ``classify(boxes)`` gives each pick's P(particle),
    ``write(job, picks, probabilities)`` writes the outputs and returns
    which picks were kept. A micrograph that cannot be read is reported and skipped;
    an output that cannot be written stops the run
    (:class:`~unpicker.files.OutputError`). ``on_done(summary)`` is called
    after each micrograph. ``image_for(job, micrograph, picks' centres)``,
    called in the worker that read the micrograph, returns what the run
    keeps of it (a view for a report, say), in ``summary.images``;
    ``on_scored(job, picks, boxes, probabilities)`` is called after the network."""
    from tqdm import tqdm

    summary = UnpickSummary()
    t_start = time.perf_counter()
    bar = tqdm(total=len(jobs), desc="Unpicking", unit="micrograph", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    workers = max(1, num_cores)
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        queue = iter(enumerate(jobs))

        def submit_next() -> None:
            for i, job in queue:
                pending.append((i, job, pool.submit(_prepare, job, settings, ctfs, fill_nonfinite, image_for)))
                return

        for _ in range(workers + 1):
            submit_next()
        try:
            while pending:
                i, job, future = pending.popleft()
                submit_next()
                bar.write(f"Processing image {i + 1}/{len(jobs)} {job.mrc_path.name}", file=out)
                try:
                    picks, boxes, (t_read, t_prep, t_extract), warnings, kept_image = future.result()
                except (StarError, MicrographError, OSError, ValueError) as e:
                    bar.write(f"Skipped {job.name}: {e}", file=sys.stderr)
                    summary.failed.append(job.name)
                    bar.update(1)
                    continue
                for warning in warnings:
                    bar.write(f"Warning: {warning}", file=sys.stderr)
                bar.write(f"Eval Particles: {len(picks)}", file=out)
                t0 = time.perf_counter()
                prob = classify(boxes) if len(boxes) else np.zeros(0, np.float32)
                if on_scored is not None:
                    on_scored(job, picks, boxes, prob)
                t1 = time.perf_counter()
                keep = write(job, picks, prob)
                kept = int(keep.sum())
                t2 = time.perf_counter()
                pct = 100.0 * kept / len(picks) if len(picks) else 0.0
                bar.write(f"Saved {job.output_path.name} with {kept}/{len(picks)}({pct:.1f}%)", file=out)
                out.flush()
                summary.micrographs += 1
                summary.picks_in += len(picks)
                summary.picks_kept += kept
                summary.scores.append(prob)
                summary.names.append(job.name)
                summary.kept.append(keep)
                if kept_image is not None:
                    summary.images[job.name] = kept_image
                for key, dt in (("read", t_read), ("preprocess", t_prep), ("extract", t_extract),
                                ("network", t1 - t0), ("write", t2 - t1)):
                    summary.timings[key] += dt
                bar.update(1)
                if on_done:
                    on_done(summary)
        except BaseException:
            for _, _, f in pending:    # stop the workers' queue; the one running finishes
                f.cancel()
            raise
        finally:
            bar.close()
    summary.seconds = time.perf_counter() - t_start
    return summary
