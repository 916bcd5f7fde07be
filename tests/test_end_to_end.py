"""The three commands end to end, and the built-in demo."""
from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, run_eval
from unpicker.commands.demo import score_folder
from unpicker.networks.model_file import read_model_info


def test_unpicks_held_out_micrographs_well_above_keeping_all(trained):
    folder, names, _ = trained
    assert run_eval(folder, "--train_output", "unpickModel.out", "--overwrite") == 0
    s = score_folder(folder, names[3:])
    f1, keep_all_f1 = s["unpicker"][2], s["keep_all"][2]
    assert f1 > keep_all_f1 + 0.15, s


def test_demo_runs_end_to_end(tmp_path):
    r = subprocess.run([sys.executable, "-m", "unpicker.commands.demo", "--folder", str(tmp_path / "demo"),
                        "--level", "tiny", "--micrographs", "3", "--cleaned", "2", "--epochs", "2", "--quiet"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "emUnpicker       precision" in r.stdout and "keep every pick" in r.stdout
    report = tmp_path / "demo" / "unpick_report" / "index.html"
    assert r.stdout.strip().splitlines()[-1] == f"What it removed, and a threshold to move: {report.resolve()} " \
                                                "(open it in a browser)" and report.exists()
    # the demo's model trained on its two hand-cleaned micrographs, with unpicker_train.py's defaults
    info = read_model_info(tmp_path / "demo" / "unpickModel.out")[0]
    assert info.network == "resnet+seed" and len(info.extra["training"]["micrographs"]) == 2
