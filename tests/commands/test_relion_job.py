"""As RELION 4 and 5 External jobs, in project skeletons: the output tree
and list, the node file's labels, the exit files, an abort mid-run, a
continue, parts on a cluster, and nothing written outside --o."""
from __future__ import annotations

import hashlib
import re
import shutil

import pytest

from conftest import copy_model, inside
from unpicker import relion_job
from unpicker.commands import train as train_cmd
from unpicker.commands import unpick
from unpicker.demo import write_demo
from unpicker.formats.relion import read_coordinate_list, read_picks
from unpicker.formats.star import read_star

PIPELINE = {
    4: ("\n# version 30001\n\ndata_pipeline_general\n\n_rlnPipeLineJobCounter 12\n\n# version 30001\n\n"
        "data_pipeline_processes\n\nloop_\n_rlnPipeLineProcessName #1\n_rlnPipeLineProcessAlias #2\n"
        "_rlnPipeLineProcessTypeLabel #3\n_rlnPipeLineProcessStatusLabel #4\n"
        "AutoPick/job006/ None relion.autopick.log Succeeded\n\n# version 30001\n\ndata_pipeline_nodes\n\nloop_\n"
        "_rlnPipeLineNodeName #1\n_rlnPipeLineNodeTypeLabel #2\n"
        "AutoPick/job006/autopick.star MicrographsCoords.star.relion.autopick\n"),
    5: ("\n# version 50001\n\ndata_pipeline_general\n\n_rlnPipeLineJobCounter 12\n\n# version 50001\n\n"
        "data_pipeline_nodes\n\nloop_\n_rlnPipeLineNodeName #1\n_rlnPipeLineNodeTypeLabel #2\n"
        "_rlnPipeLineNodeTypeLabelDepth #3\n"
        "AutoPick/job006/autopick.star MicrographCoordsGroup.star.relion.autopick 1\n"),
}
CTF_HEADER = ("\n# version 30001\n\ndata_optics\n\nloop_\n_rlnOpticsGroupName #1\n_rlnOpticsGroup #2\n"
              "_rlnMicrographPixelSize #3\n_rlnVoltage #4\n_rlnSphericalAberration #5\n_rlnAmplitudeContrast #6\n"
              "opticsGroup1 1 3.0 300 2.7 0.1\n\n# version 30001\n\ndata_micrographs\n\nloop_\n"
              "_rlnMicrographName #1\n_rlnOpticsGroup #2\n_rlnDefocusU #3\n_rlnDefocusV #4\n_rlnDefocusAngle #5\n")
LIST_HEADER = ("\n# version 30001\n\ndata_coordinate_files\n\nloop_\n_rlnMicrographName #1\n"
               "_rlnMicrographCoordinates #2\n")


def checksums(root, skip=()):
    return {p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and not any(str(p.relative_to(root)).startswith(s) for s in skip)}


def make_project(root, version, source):
    """A RELION project skeleton: micrographs in MotionCorr/job002/Movies/{a,b},
    an AutoPick job's files and list, a ManualPick job's cleaned files and list,
    a CtfFind job's micrographs_ctf.star. ``source``: a demo folder."""
    names = sorted(p.name[:-len("_autopick.star")] for p in source.glob("*_autopick.star"))
    (root / "default_pipeline.star").write_text(PIPELINE[version])
    auto_rows, manual_rows, ctf_rows = [], [], []
    for i, name in enumerate(names):
        sub = "a" if i % 2 == 0 else "b"
        mic = root / "MotionCorr/job002/Movies" / sub / f"{name}.mrc"
        picks = root / "AutoPick/job006/Movies" / sub / f"{name}_autopick.star"
        for p in (mic, picks):
            p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / f"{name}.mrc", mic)
        shutil.copy(source / f"{name}_autopick.star", picks)
        mic_rel, picks_rel = mic.relative_to(root), picks.relative_to(root)
        auto_rows.append(f"{mic_rel} {picks_rel}")
        ctf_rows.append(f"{mic_rel} 1 15000 15000 0")
        if (source / f"{name}_autopick_correct.star").exists():
            manual = root / "ManualPick/job010/Movies" / sub / f"{name}_manualpick.star"
            manual.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / f"{name}_autopick_correct.star", manual)
            manual_rows.append(f"{mic_rel} {manual.relative_to(root)}")
    (root / "AutoPick/job006/autopick.star").write_text(LIST_HEADER + "\n".join(auto_rows) + "\n")
    (root / "ManualPick/job010").mkdir(parents=True, exist_ok=True)
    (root / "ManualPick/job010/manualpick.star").write_text(LIST_HEADER + "\n".join(manual_rows) + "\n")
    (root / "CtfFind/job003").mkdir(parents=True)
    (root / "CtfFind/job003/micrographs_ctf.star").write_text(CTF_HEADER + "\n".join(ctf_rows) + "\n")
    return names


def nodes(job):
    block = read_star(job / "RELION_OUTPUT_NODES.star").block("output_nodes")
    return dict(zip(block.column("rlnPipeLineNodeName"), block.column(block.columns[1])))


@pytest.mark.parametrize("version", [4, 5])
def test_train_and_unpick_as_external_jobs(version, tmp_path, trained):
    import starfile

    folder, _, _ = trained
    source = tmp_path / "source"
    write_demo(source, n_micrographs=4, n_cleaned=2, level="tiny", seed=9)
    project = tmp_path / "project"
    project.mkdir()
    names = make_project(project, version, source)
    before = checksums(project)
    with inside(project):
        rc = train_cmd.main(["--o", "External/job011/", "--in_coords", "AutoPick/job006/autopick.star",
                             "--cleaned", "ManualPick/job010/manualpick.star", "--in_mics",
                             "CtfFind/job003/micrographs_ctf.star", "--j", "2", "--boxsize", "54", "--max_steps", "3"])
    assert rc == 0
    job = project / "External/job011"
    assert (job / relion_job.SUCCESS).exists() and (job / "unpickModel.out").exists()
    assert (job / "Movies/a" / f"{names[0]}_train.star").exists()      # the training files mirror the tree
    labels = relion_job.MODEL_NODE[version], relion_job.TRAINING_NODE[version]
    assert nodes(job) == {"External/job011/unpickModel.out": labels[0],
                          "External/job011/autopick_train.star": labels[1]}
    assert checksums(project, ["External/"]) == before                   # nothing outside --o changed

    # unpick with the trained fixture's model (better than two epochs), copied as a job's output
    model_job = project / "External/job020"
    model_job.mkdir(parents=True)
    copy_model(folder, model_job)
    before = checksums(project)
    args = ["--o", "External/job012/", "--in_coords", "AutoPick/job006/autopick.star", "--train_output",
            "External/job020/unpickModel.out", "--in_mics", "CtfFind/job003/micrographs_ctf.star", "--j", "2",
            "--boxsize", "54", "--force"]
    with inside(project):
        assert unpick.main(args) == 0
    job = project / "External/job012"
    assert (job / relion_job.SUCCESS).exists()
    assert nodes(job) == {"External/job012/autopick.star": relion_job.COORDS_NODE[version]}
    listed = read_star(job / "autopick.star").block("coordinate_files")
    expected = [[f"MotionCorr/job002/Movies/{'a' if i % 2 == 0 else 'b'}/{n}.mrc",
                 f"External/job012/Movies/{'a' if i % 2 == 0 else 'b'}/{n}_autopick.star"] for i, n in enumerate(names)]
    assert listed.rows == expected
    assert starfile.read(job / "autopick.star")["rlnMicrographCoordinates"].tolist() == [r[1] for r in expected]
    for _, coords in expected:
        picks = read_picks(project / coords)
        assert len(picks) > 0 and picks.block.has_columns("rlnAutopickFigureOfMerit", "unpickerScore")
    assert checksums(project, ["External/job012"]) == before


@pytest.fixture
def project(trained, tmp_path):
    folder, _, _ = trained
    project = tmp_path / "project"
    project.mkdir()
    source = tmp_path / "source"
    source.mkdir()
    for f in folder.iterdir():
        if f.name.endswith((".mrc", "_autopick.star")):
            shutil.copy(f, source)
    names = make_project(project, 5, source)
    job = project / "External/job020"
    job.mkdir(parents=True)
    copy_model(folder, job)
    return project, names


def eval_args(job, *more):
    return ["--o", job, "--in_coords", "AutoPick/job006/autopick.star", "--train_output",
            "External/job020/unpickModel.out", "--j", "2", *more]


def test_an_abort_between_micrographs_then_continue(project, monkeypatch, capsys):
    root, names = project
    calls = []
    real = relion_job.check_abort

    def abort_after_two(job_dir):
        calls.append(job_dir)
        if len(calls) == 3:                       # the check before the first micrograph, then after each
            (job_dir / relion_job.ABORT_NOW).touch()
        real(job_dir)

    monkeypatch.setattr(unpick, "check_abort", abort_after_two)
    with inside(root):
        assert unpick.main(eval_args("External/job013/")) == 1
    job = root / "External/job013"
    assert (job / relion_job.ABORTED).exists() and not (job / relion_job.SUCCESS).exists()
    assert not (job / relion_job.ABORT_NOW).exists()
    done = sorted(job.rglob("*_autopick.star"))
    assert len(done) == 2
    err = capsys.readouterr().err
    assert "Aborted: 2 of 6 micrographs unpicked, each output complete" in err and "Traceback" not in err
    monkeypatch.setattr(unpick, "check_abort", real)
    with inside(root):                              # RELION's Continue runs the same command
        assert unpick.main(eval_args("External/job013/")) == 0
    assert "2 micrographs already unpicked with these settings" in capsys.readouterr().out
    assert (job / relion_job.SUCCESS).exists() and not (job / relion_job.ABORTED).exists()
    assert len(sorted(job.rglob("*_autopick.star"))) == 6
    listed = read_coordinate_list(job / unpick.JOB_LIST_NAME)      # every micrograph, not only the last run's
    assert len(listed.coordinates) == 6


def test_parts_on_a_cluster_equal_one_run_byte_for_byte(project, monkeypatch, capsys):
    root, names = project
    with inside(root):
        assert unpick.main(eval_args("External/job014/", "--keep_all")) == 0
        assert unpick.main(eval_args("External/job015/", "--keep_all", "--shard", "2/3")) == 0
        assert "Part 2/3 done (1 of 3 parts); the last part writes the list" in capsys.readouterr().out
        assert not (root / "External/job015/autopick.star").exists()
        # a SLURM array task finds its part by itself
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "5")
        monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "5")
        monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
        assert unpick.main(eval_args("External/job015/", "--keep_all")) == 0
        monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
        assert unpick.main(eval_args("External/job015/", "--keep_all", "--shard", "3/3")) == 0
    whole, parts = root / "External/job014", root / "External/job015"
    assert (parts / relion_job.SUCCESS).exists()
    same = [p.relative_to(whole) for p in whole.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert {p.relative_to(parts) for p in parts.rglob("*") if p.is_file() and ".unpicker_shards" not in str(p)
            and not p.name.startswith(".")} == set(same)
    for rel in same:                                 # the report's clock (when, how long) aside
        a = re.sub(rb'"When": "[^"]*"', b"", (whole / rel).read_bytes().replace(b"job014", b"JOB"))
        b = re.sub(rb'"When": "[^"]*"', b"", (parts / rel).read_bytes().replace(b"job015", b"JOB"))
        assert a == b, rel
    # every pick kept, each carrying its score as the figure of merit RELION's Extract filters on
    picks = read_picks(next(whole.rglob("*_autopick.star")))
    source = read_picks(root / "AutoPick/job006" / next(whole.rglob("*_autopick.star")).relative_to(whole))
    assert len(picks) == len(source)
    assert picks.block.column("rlnAutopickFigureOfMerit") == picks.block.column("unpickerScore")


def test_relion_versions_and_shards_are_read():
    assert relion_job.parse_shard("2/5") == relion_job.Shard(2, 5)
    for bad in ("0/3", "4/3", "x", "1-2"):
        with pytest.raises(ValueError, match="I/N"):
            relion_job.parse_shard(bad)
    assert relion_job.Shard(2, 3).take(list(range(7))) == [2, 3]
    assert sum((relion_job.Shard(i, 3).take(list(range(7))) for i in (1, 2, 3)), []) == list(range(7))
    assert relion_job.shard_from_environment({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4"}) == \
        relion_job.Shard(1, 4)
    assert relion_job.shard_from_environment({}) is None
