"""Shared test fixtures: the optional real data beside the checkout, a trained
demo folder, and running the commands in a folder."""
from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data not present: {p}")
    return p


@contextlib.contextmanager
def inside(folder: Path):
    """Run the body with ``folder`` as the current directory."""
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(cwd)


def make_training_files(folder: Path) -> int:
    """trainingSetFromStarFiles.py _autopick.star _autopick_correct.star _autopick_train.star in ``folder``."""
    from unpicker.commands import training_set

    with inside(folder):
        return training_set.main(["_autopick.star", "_autopick_correct.star", "_autopick_train.star"])


def train_in(folder: Path, *train_args: str) -> int:
    """Make the training files of a demo folder and run unpicker_train.py there
    (box 54 px; the preprocessing as given unless ``--preprocessing`` is among
    ``train_args``: the default's choice, three more short trainings, has its
    own test)."""
    from unpicker.commands import train as train_cmd

    make_training_files(folder)
    given = [] if "--preprocessing" in train_args else ["--preprocessing", "given"]
    with inside(folder):
        return train_cmd.main(["--boxsize", "54", "--no_progress", *given, *train_args])


def run_eval(folder: Path, *args: str) -> int:
    """unpicker_eval.py in ``folder`` (2 cores, no progress bars)."""
    from unpicker.commands import unpick

    with inside(folder):
        return unpick.main(["--no_progress", "--num_cores", "2", *args])


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A folder of 6 generated micrographs (3 hand-cleaned), a model trained on
    it with the defaults (box 54 px, 30 epochs) but the preprocessing as
    given (the choice, three more short trainings, has its own test), and
    the training log."""
    from unpicker.commands import train as train_cmd
    from unpicker.demo import write_demo

    folder = tmp_path_factory.mktemp("mics")
    names = write_demo(folder, n_micrographs=6, n_cleaned=3, level="easy", seed=1, size_px=512)
    assert make_training_files(folder) == 0
    log = io.StringIO()
    with inside(folder), contextlib.redirect_stdout(log):
        rc = train_cmd.main(["--train_output", "unpickModel.out", "--boxsize", "54", "--num_epochs", "30",
                             "--preprocessing", "given", "--num_cores", "2", "--no_progress"])
    assert rc == 0, log.getvalue()
    return folder, names, log.getvalue()


def copy_model(folder: Path, dest: Path, name: str = "unpickModel.out") -> None:
    """Copy a trained model (its file and weights, not the checkpoints or the report) to ``dest``."""
    import shutil

    for f in folder.glob(f"{name}*"):
        if f.is_file() and not f.name.startswith(f"{name}-"):
            shutil.copy(f, dest)
