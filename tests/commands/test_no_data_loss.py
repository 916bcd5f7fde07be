"""Every command, with every output option pointed at every kind of input:
refused before anything is written, every file left as it was (checksums)."""
from __future__ import annotations

import hashlib
import shutil

import pytest

from conftest import inside
from unpicker.commands import train as train_cmd
from unpicker.commands import training_set, unpick


def checksums(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def project(trained, tmp_path_factory):
    """A copy of the trained demo folder, with a RELION 4/5 coordinate list and a folder."""
    folder, names, _ = trained
    work = tmp_path_factory.mktemp("project")
    for f in folder.iterdir():
        if f.is_file() and not f.name.startswith("unpickModel.out-"):
            shutil.copy(f, work)
    (work / "autopick_list.star").write_text(
        "\n# version 30001\n\ndata_coordinate_files\n\nloop_\n_rlnMicrographName #1\n_rlnMicrographCoordinates #2\n"
        + "".join(f"{n}.mrc {n}_autopick.star\n" for n in names) + "\n")
    (work / "a_folder").mkdir()
    return work, names


def _runs(names):
    """(command, arguments) that point an output at an input, or two outputs at one file."""
    m = names[0]
    runs = []
    for suffix in (".mrc", "_autopick.star", "_autopick_correct.star"):
        runs.append((training_set.main, ["_autopick.star", "_autopick_correct.star", suffix]))
    for target in (f"{m}.mrc", f"{m}_autopick.star", f"{m}_autopick_correct.star", f"{m}_autopick_train.star",
                   "autopick_list.star", "unpickModel.out.resnet.weights.h5", "a_folder"):
        runs.append((train_cmd.main, ["--train_output", target, "--boxsize", "54", "--no_progress"]))
    model = ["--train_output", "unpickModel.out", "--no_progress"]
    for suffix in (".mrc", "_autopick.star", "_autopick_correct.star", "_autopick_train.star"):
        runs.append((unpick.main, model + ["--output_root", suffix]))
        runs.append((unpick.main, model + ["--write_rejected", suffix]))
    runs.append((unpick.main, model + ["--write_rejected", "_autopick_unpick.star"]))     # the kept picks' file
    runs.append((unpick.main, model + ["--output_root", "_x.star", "--write_rejected", "_x.star"]))
    for target in (f"{m}.mrc", "unpickModel.out", f"{m}_autopick.star", "unpickModel.out.seed.weights.h5",
                   "a_folder"):
        runs.append((unpick.main, model + ["--histogram", target]))
    runs.append((unpick.main, model + ["--eval_file", "autopick_list.star", "--output_root", "_list.star",
                                       "--eval_root", "_list.star"]))
    return runs


def test_no_output_option_can_overwrite_an_input(project, capsys):
    folder, names = project
    before = checksums(folder)
    for command, args in _runs(names):
        for extra in ([], ["--overwrite"]) if command is not train_cmd.main else ([],):
            with inside(folder):
                rc = command(args + extra)
            err = capsys.readouterr().err
            assert rc == 2, (args + extra, err)
            assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1, err
            assert checksums(folder) == before, (args + extra)
