"""Bad input gets a named error, never a guess: flags, micrographs, picks,
models, unwritable outputs, Ctrl-C, and log files without progress bars."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import mrcfile
import numpy as np
import pytest

from conftest import copy_model, ROOT, make_training_files, run_eval, train_in
from unpicker.commands import train as train_cmd
from unpicker.commands import training_set, unpick
from unpicker.demo import write_demo
from unpicker.formats.star import read_star


@pytest.mark.parametrize("command, args, message", [
    (training_set.main, ["a", "b", "c", "--match_distance", "nan"], "--match_distance: expected a finite number"),
    (training_set.main, ["a", "b", "c", "--match_distance", "-1"], "--match_distance: must be at least 0, got -1"),
    (train_cmd.main, ["--num_cores", "-2"], "--num_cores: must be at least 1, got -2"),
    (train_cmd.main, ["--boxsize", "1"], "--boxsize: must be at least 2"),
    (train_cmd.main, ["--boxsize", "12.5"], "--boxsize: expected a whole number, got '12.5'"),
    (train_cmd.main, ["--apix", "0"], "--apix: must be above 0"),
    (train_cmd.main, ["--lowpass", "inf"], "--lowpass: expected a finite number"),
    (train_cmd.main, ["--sigma_contrast", "-3"], "--sigma_contrast: must be at least 0"),
    (train_cmd.main, ["--num_epochs", "0"], "--num_epochs: must be at least 1, got 0"),
    (train_cmd.main, ["--validation_fraction", "1"], "--validation_fraction: must be below 1"),
    (train_cmd.main, ["--max_steps", "-5"], "--max_steps: must be at least 0"),
    (unpick.main, ["--threshold", "1.5"], "--threshold: must be at most 1, got 1.5"),
    (unpick.main, ["--threshold", "nan"], "--threshold: expected a finite number"),
    (unpick.main, ["--num_cores", "0"], "--num_cores: must be at least 1, got 0"),
])
def test_numeric_flags_are_checked_when_parsed(command, args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        command(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def _demo(folder, n=3, cleaned=3):
    names = write_demo(folder, n_micrographs=n, n_cleaned=cleaned, level="tiny", seed=5)
    return names


def _write_mrc(path, data):
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data.astype(np.float32))


def test_nonfinite_pixels_are_an_error_unless_filled_and_blank_micrographs_a_warning(trained, tmp_path, capsys):
    folder, names, _ = trained
    for name in names[3:6]:
        shutil.copy(folder / f"{name}.mrc", tmp_path)
        shutil.copy(folder / f"{name}_autopick.star", tmp_path)
    copy_model(folder, tmp_path)
    with mrcfile.open(tmp_path / f"{names[3]}.mrc", "r+") as mrc:
        mrc.data[10, 20] = np.nan
        mrc.data[30, 5] = np.inf
    _write_mrc(tmp_path / f"{names[4]}.mrc", np.full((512, 512), 7.0))
    assert run_eval(tmp_path, "--train_output", "unpickModel.out", "--histogram", "") == 1
    err = capsys.readouterr().err
    assert (f"Skipped {names[3]}: {names[3]}.mrc: 2 pixels are NaN or infinite (the first at x 20, y 10); "
            "--fill_nonfinite replaces them") in err
    assert f"Warning: {names[4]}.mrc: every pixel is 7 (a blank micrograph)" in err
    assert not (tmp_path / f"{names[3]}_autopick_unpick.star").exists()
    assert run_eval(tmp_path, "--train_output", "unpickModel.out", "--histogram", "", "--fill_nonfinite") == 0
    scores = read_star(tmp_path / f"{names[3]}_autopick_unpick.star").blocks[-1].floats("unpickerScore")
    assert np.isfinite(scores).all()


def test_nonfinite_pixels_and_boxes_larger_than_the_micrograph_stop_training(tmp_path, monkeypatch, capsys):
    names = _demo(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert make_training_files(tmp_path) == 0
    assert train_cmd.main(["--boxsize", "300", "--no_progress"]) == 2
    assert (f"Error: {names[0]}.mrc: the box (300 px) is larger than the micrograph (256 x 256 px); "
            "is --boxsize in pixels of these micrographs?") in capsys.readouterr().err
    with mrcfile.open(tmp_path / f"{names[1]}.mrc", "r+") as mrc:
        mrc.data[3, 4] = np.nan
    assert train_cmd.main(["--boxsize", "54", "--no_progress"]) == 2
    assert f"Error: {names[1]}.mrc: 1 pixels are NaN or infinite (the first at x 4, y 3)" in capsys.readouterr().err
    assert not list(tmp_path.glob("model.ckpt*"))


def test_a_loss_that_stops_being_finite_stops_training_by_name(tmp_path, capsys):
    _demo(tmp_path, n=2, cleaned=2)
    assert train_in(tmp_path, "--train_output", "m.out", "--num_epochs", "2", "--learning_rate", "1e30") == 1
    err = capsys.readouterr().err
    assert "Error: the training loss became" in err and "at step" in err and "Traceback" not in err
    assert not (tmp_path / "m.out").exists()     # no model that would score every pick NaN


def test_nonfinite_coordinates_are_named_with_file_line_and_value(trained, tmp_path, capsys):
    names = _demo(tmp_path, n=2, cleaned=2)
    star = tmp_path / f"{names[0]}_autopick.star"
    lines = star.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    lines[row] = "nan " + lines[row].split(" ", 1)[1]
    star.write_text("\n".join(lines) + "\n")
    assert make_training_files(tmp_path) == 1
    assert (f"Skipped {names[0]}: {star.name}:{row + 1}: _rlnCoordinateX is not a finite number: 'nan'"
            in capsys.readouterr().err)
    folder = trained[0]
    copy_model(folder, tmp_path)
    (tmp_path / f"{names[1]}_autopick_correct.star").unlink()
    assert run_eval(tmp_path, "--train_output", "unpickModel.out", "--boxsize", "54", "--force",
                    "--histogram", "") == 1
    assert f"Skipped {names[0]}: {star.name}:{row + 1}: _rlnCoordinateX is not a finite number: 'nan'" in \
        capsys.readouterr().err


def test_damaged_or_edited_models_are_named(trained, tmp_path, capsys):
    folder, names, _ = trained
    copy_model(folder, tmp_path)
    shutil.copy(folder / f"{names[5]}.mrc", tmp_path)
    shutil.copy(folder / f"{names[5]}_autopick.star", tmp_path)
    doc = json.loads((tmp_path / "unpickModel.out").read_text())
    cases = [({**doc, "network": "vgg"}, "unknown network 'vgg'"),
             ({**doc, "preprocessing": {k: v for k, v in doc["preprocessing"].items() if k != "boxsize_px"}},
              "no preprocessing.boxsize_px"),
             ({**doc, "members": doc["members"][:1]}, "but its members are ['resnet']")]
    for edited, message in cases:
        (tmp_path / "edited.out").write_text(json.dumps(edited))
        assert run_eval(tmp_path, "--train_output", "edited.out") == 2
        err = capsys.readouterr().err
        assert err.startswith("Error: edited.out: ") and message in err, err
    # a network built for another box size than its weights, and a truncated weights file
    resized = {**doc, "preprocessing": {**doc["preprocessing"], "resized_px": 48}}
    (tmp_path / "resized.out").write_text(json.dumps(resized))
    assert run_eval(tmp_path, "--train_output", "resized.out") == 2
    assert "cannot be read as the resnet network's weights" in capsys.readouterr().err
    weights = tmp_path / "unpickModel.out.seed.weights.h5"
    weights.write_bytes(weights.read_bytes()[:5000])
    assert run_eval(tmp_path, "--train_output", "unpickModel.out") == 2
    err = capsys.readouterr().err
    assert "unpickModel.out.seed.weights.h5: cannot be read as the seed network's weights" in err
    assert "Traceback" not in err and not list(tmp_path.glob("*_unpick.star"))


def test_another_threshold_redoes_what_was_unpicked(trained, tmp_path, capsys):
    folder, names, _ = trained
    copy_model(folder, tmp_path)
    shutil.copy(folder / f"{names[5]}.mrc", tmp_path)
    shutil.copy(folder / f"{names[5]}_autopick.star", tmp_path)
    output = tmp_path / f"{names[5]}_autopick_unpick.star"
    assert run_eval(tmp_path, "--train_output", "unpickModel.out", "--threshold", "0") == 0
    n_all = len(read_star(output).blocks[-1].rows)
    assert run_eval(tmp_path, "--train_output", "unpickModel.out", "--threshold", "0") == 0
    assert "1 micrographs already unpicked with these settings" in capsys.readouterr().out
    assert run_eval(tmp_path, "--train_output", "unpickModel.out", "--threshold", "0.9") == 0
    assert "already unpicked" not in capsys.readouterr().out
    assert len(read_star(output).blocks[-1].rows) < n_all
    assert output.read_text().splitlines()[-1].endswith("threshold 0.9, tta 4, precision auto")


def test_unwritable_outputs_stop_with_one_line_and_leave_inputs(trained, tmp_path, capsys, monkeypatch):
    import errno
    import tempfile

    folder, names, _ = trained
    copy_model(folder, tmp_path)
    shutil.copy(folder / f"{names[5]}.mrc", tmp_path)
    shutil.copy(folder / f"{names[5]}_autopick.star", tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    real = tempfile.mkstemp
    for code in (errno.EACCES, errno.ENOSPC):
        def refuse(*args, code=code, **kwargs):
            raise OSError(code, os.strerror(code))
        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        assert run_eval(tmp_path, "--train_output", "unpickModel.out", "--histogram", "") == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"Error: {names[5]}_autopick_unpick.star: cannot be written: {os.strerror(code)}"]
        monkeypatch.setattr(tempfile, "mkstemp", real)
        assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_ctrl_c_stops_training_with_one_line_and_no_temporary_files(tmp_path):
    _demo(tmp_path, n=3, cleaned=3)
    assert make_training_files(tmp_path) == 0
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    # Ctrl-C as on a terminal: a suite started in the background (``&``, nohup) passes SIGINT on ignored,
    # and Python then never turns it into KeyboardInterrupt
    proc = subprocess.Popen([sys.executable, str(ROOT / "unpicker_train.py"), "--boxsize", "54",
                             "--num_epochs", "400", "--preprocessing", "given", "--train_output", "m.out"],
                            cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in proc.stdout:          # the first checkpoint, then interrupt mid-training
        if line.startswith("Step 0 model saved"):
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("Interrupted: training stopped; the checkpoints up to m.out-")
    assert not [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_log_files_get_no_progress_bars(tmp_path):
    """Redirected to a file (a log, RELION's run.err, SLURM), stderr holds
    messages only: no bar redraws, and the original's lines start lines."""
    names = _demo(tmp_path, n=2, cleaned=2)
    make_training_files(tmp_path)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(tmp_path / "train.log", "w") as log:
        r = subprocess.run([sys.executable, str(ROOT / "unpicker_train.py"), "--boxsize", "54", "--max_steps", "2",
                            "--train_output", "m.out"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    assert r.returncode == 0
    text = (tmp_path / "train.log").read_text()
    assert "\r" not in text and "it/s" not in text and "step/s" not in text
    assert "\nStep 0\n" in text and "\nTrained model saved in file m.out\n" in text
    assert names
