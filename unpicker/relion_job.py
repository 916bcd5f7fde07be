"""Running as a RELION 4/5 External job, and in parts on a cluster.

RELION runs an External job from the project directory as ``EXECUTABLE --o
External/jobNNN/ [--in_mics F] [--in_coords F] [--LABEL VALUE ...] --j N``.
The job writes only under ``--o``; when it ends it names its outputs in
``RELION_OUTPUT_NODES.star`` (with the node types of the RELION version
that runs the project, read from ``default_pipeline.star``) and touches
``RELION_JOB_EXIT_SUCCESS`` or ``RELION_JOB_EXIT_FAILURE``; when the user
aborts it, RELION touches ``RELION_JOB_ABORT_NOW``, which the job polls for
between micrographs, and answers with ``RELION_JOB_EXIT_ABORTED``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .files import atomic_write_text
from .formats.star import format_loop_block

SUCCESS = "RELION_JOB_EXIT_SUCCESS"
FAILURE = "RELION_JOB_EXIT_FAILURE"
ABORTED = "RELION_JOB_EXIT_ABORTED"
ABORT_NOW = "RELION_JOB_ABORT_NOW"
NODES = "RELION_OUTPUT_NODES.star"

# Node types by RELION version (RELION's pipeline_jobs.h): coordinate lists,
# for Extract; the model, as RELION files Topaz's.
COORDS_NODE = {4: "MicrographsCoords.star.relion.autopick", 5: "MicrographCoordsGroup.star.relion.autopick"}
MODEL_NODE = {4: "ProcessData.out.emunpicker.model", 5: "ParamsData.out.emunpicker.model"}
TRAINING_NODE = {4: "MicrographsCoords.star.emunpicker.training", 5: "MicrographCoordsGroup.star.emunpicker.training"}
# RELION 3.1 numbered its node types: 2 is a coordinate list
RELION3_TYPES = {"coords": 2, "model": 99, "training": 2}


class JobAborted(Exception):
    """The user aborted the job (RELION touched RELION_JOB_ABORT_NOW)."""


def relion_version(project: Path = Path(".")) -> int:
    """The RELION version running the project, from its
    ``default_pipeline.star``: 5 (its ``# version 50001`` comments or node
    type label depths), 4 (node type labels), 3 (numbered node types); 5
    when the file is absent or says nothing of it."""
    try:
        text = (project / "default_pipeline.star").read_text(errors="replace")
    except OSError:
        return 5
    versions = [int(v) for v in re.findall(r"^#\s*version\s+(\d+)", text, re.M)]
    if any(v >= 50000 for v in versions) or "_rlnPipeLineNodeTypeLabelDepth" in text:
        return 5
    if "_rlnPipeLineNodeTypeLabel" in text or "_rlnPipeLineProcessTypeLabel" in text:
        return 4
    if "_rlnPipeLineNodeType" in text:
        return 3
    return 5


def write_nodes(job_dir: Path, nodes: list[tuple[Path, str]], version: int) -> None:
    """``RELION_OUTPUT_NODES.star``: each (path, kind) with the node type
    label of ``version`` (``kind``: ``coords``, ``model`` or ``training``)."""
    labels = {"coords": COORDS_NODE, "model": MODEL_NODE, "training": TRAINING_NODE}
    if version <= 3:
        text = format_loop_block("output_nodes", ["rlnPipeLineNodeName", "rlnPipeLineNodeType"],
                                 [[str(p), str(RELION3_TYPES[k])] for p, k in nodes], "version 30001")
    else:
        text = format_loop_block("output_nodes", ["rlnPipeLineNodeName", "rlnPipeLineNodeTypeLabel"],
                                 [[str(p), labels[k][min(version, 5)]] for p, k in nodes],
                                 "version 50001" if version >= 5 else "version 30001")
    atomic_write_text(job_dir / NODES, text)


def finish(job_dir: Path, status: str) -> None:
    """Touch the exit file ``status`` (removing the others and a stale abort request)."""
    for name in (SUCCESS, FAILURE, ABORTED, ABORT_NOW):
        if name != status:
            (job_dir / name).unlink(missing_ok=True)
    (job_dir / status).touch()


def start(job_dir: Path) -> None:
    """A (re)started job: its folder exists, and no exit file of an earlier run says it ended."""
    job_dir.mkdir(parents=True, exist_ok=True)
    for name in (SUCCESS, FAILURE, ABORTED):
        (job_dir / name).unlink(missing_ok=True)


def check_abort(job_dir: Path | None) -> None:
    """Raise :class:`JobAborted` when RELION asked the job to stop."""
    if job_dir is not None and (job_dir / ABORT_NOW).exists():
        raise JobAborted("the job was aborted (RELION_JOB_ABORT_NOW)")


def mirrored(path: Path, list_dir: Path, job_dir: Path) -> Path:
    """Where the output for ``path`` (a file a list in ``list_dir`` names,
    relative to the project) goes under ``job_dir``: the same path below the
    list's folder (``AutoPick/job006/Movies/a.star`` -> ``DIR/Movies/a.star``),
    or its whole relative path where it lies elsewhere."""
    path = Path(os.path.normpath(path))
    try:
        return job_dir / path.relative_to(Path(os.path.normpath(list_dir)))
    except ValueError:
        return job_dir / (path.relative_to(path.anchor) if path.is_absolute() else path)


@dataclass(frozen=True)
class Shard:
    """Part ``index`` (1-based) of ``count`` of a run's micrographs."""

    index: int = 1
    count: int = 1

    def take(self, items: list) -> list:
        """This part's share of ``items``: contiguous, sizes differing by at most one."""
        n = len(items)
        return items[(self.index - 1) * n // self.count: self.index * n // self.count]

    @property
    def whole(self) -> bool:
        return self.count == 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``I/N`` (1 <= I <= N) as a :class:`Shard`; ValueError otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"expected I/N with 1 <= I <= N, got {text!r}")
    return Shard(int(m.group(1)), int(m.group(2)))


def shard_from_environment(env=os.environ) -> Shard | None:
    """The part a SLURM array task runs: ``SLURM_ARRAY_TASK_ID`` counted from
    ``SLURM_ARRAY_TASK_MIN``, of ``SLURM_ARRAY_TASK_COUNT``; None outside one."""
    try:
        task, count = int(env["SLURM_ARRAY_TASK_ID"]), int(env["SLURM_ARRAY_TASK_COUNT"])
        first = int(env.get("SLURM_ARRAY_TASK_MIN", 0))
    except (KeyError, ValueError):
        return None
    index = task - first + 1
    return Shard(index, count) if 1 <= index <= count else None
