"""Training and evaluation end to end on generated micrographs."""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from unpicker.commands import evaluate as eval_cmd
from unpicker.commands import train as train_cmd
from unpicker.commands import training_set
from unpicker.commands.demo import score_folder
from unpicker.demo import write_demo
from unpicker.modelfile import read_model_info
from unpicker.star import read_star
from unpicker.trainingdata import TrainingSet, beside_points, extract_training_set, split_by_micrograph
from unpicker.trainingset import read_training_file

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A folder of 6 generated micrographs (3 hand-cleaned) and a model trained on it."""
    folder = tmp_path_factory.mktemp("mics")
    names = write_demo(folder, n_micrographs=6, n_cleaned=3, level="easy", seed=1, size_px=512)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert training_set.main(["_autopick.star", "_autopick_correct.star", "_autopick_train.star"]) == 0
        from io import StringIO
        import contextlib
        log = StringIO()
        with contextlib.redirect_stdout(log):
            # boxes beside the particles (not the default) so that their path, the refit's included, is checked
            rc = train_cmd.main(["--train_output", "unpickModel.out", "--boxsize", "54", "--num_epochs", "30",
                                 "--num_cores", "2", "--no_progress", "--beside_negatives", "0.5"])
        assert rc == 0
    finally:
        os.chdir(cwd)
    return folder, names, log.getvalue()


def run_eval(folder, *args):
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return eval_cmd.main(["--no_progress", "--num_cores", "2", *args])
    finally:
        os.chdir(cwd)


def test_training_log_lines_checkpoints_csv_and_plot(trained):
    folder, _, log = trained
    lines = log.splitlines()
    assert re.search(r"^Training Particles: \d+ Non-particles: \d+ in training set$", log, re.M)
    assert re.search(r"^Loaded training data, using \d+ particles for validation - \d+\.\d% particles$", log, re.M)
    assert "Initialized!" in lines
    assert re.search(r"^Epoch \d+\.\d\d\nStep 0\nMinibatch loss: \d+\.\d{3}, learning rate: \d\.\d{6}\n"
                     r"Minibatch error: \d+\.\d%\nValidation error: \d+\.\d%\nStep 0 model saved in file "
                     r"unpickModel.out-0$", log, re.M)
    assert re.search(r"^Training completed, final validation error: \d+\.\d%$", log, re.M)
    assert "Trained model saved in file unpickModel.out" in lines
    lowest = re.search(r"^Lowest validation error: (\d+\.\d)% at step \d+ \(model unpickModel.out(-\d+)?\)$",
                       log, re.M)
    final = re.search(r"^Training completed, final validation error: (\d+\.\d)%$", log, re.M)
    logged = [float(e) for e in re.findall(r"^Validation error: (\d+\.\d)%$", log, re.M)]
    assert float(lowest.group(1)) == min(logged + [float(final.group(1))])   # the final model competes too
    steps = [int(m) for m in re.findall(r"^Step (\d+)$", log, re.M)]
    assert steps[:2] == [0, 100] and all(b - a == 100 for a, b in zip(steps, steps[1:]))
    for s in steps:   # each checkpoint: the model file and each network's weights
        assert [w.name for _, w in read_model_info(folder / f"unpickModel.out-{s}")[1]] == [
            f"unpickModel.out-{s}.resnet.weights.h5", f"unpickModel.out-{s}.seed.weights.h5"]
    with open(folder / "unpickModel.out.log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == steps
    assert set(rows[0]) == {"step", "epoch", "loss", "minibatch_error", "validation_error", "learning_rate"}
    assert (folder / "unpickModel.out.png").read_bytes()[:4] == b"\x89PNG"
    info, _ = read_model_info(folder / "unpickModel.out")
    assert info.network == "resnet+seed" and info.preprocessing.boxsize_px == 54
    assert info.preprocessing.apix == pytest.approx(3.0)    # from the MRC header
    assert info.extra["training"]["validation_micrographs"]
    # boxes beside the particles are added to training, never to validation
    beside = int(re.search(r"^Added (\d+) boxes beside the training micrographs' particles as non-particles "
                           r"\(--beside_negatives 0\.5\)$", log, re.M).group(1))
    assert beside > 0 and info.extra["training"]["beside_boxes"] == beside
    assert info.extra["training"]["shift_px"] == 2   # a sixteenth of the 32-px resized box
    # --precision auto: bfloat16 on a CPU with bfloat16 instructions, float32 elsewhere
    from unpicker.train import resolve_training_precision

    precision = resolve_training_precision("auto")
    assert f"Training arithmetic: {precision} (chosen for this CPU)\n" in log
    assert info.extra["training"]["precision"] == precision
    val_names = info.extra["training"]["validation_micrographs"]
    n_val = sum(len(read_training_file(folder / f"{n}_autopick_train.star").xy) for n in val_names)
    assert f"using {n_val} particles for validation" in log


def test_default_training_refits_on_the_validation_micrographs_too(trained):
    """After the validated training, the networks are trained afresh on every
    training micrograph into the model file, with the validated threshold;
    the validated model stays as the last checkpoint."""
    folder, names, log = trained
    lines = log.splitlines()
    completed = re.search(r"^Training completed, final validation error: (\d+\.\d)%$", log, re.M)
    refit = re.search(r"^Refitting on all 3 training micrographs, the validation micrographs included: (\d+) boxes, "
                      r"(\d+) steps; the default threshold stays (\d\.\d{3}) \(the validated model is saved in file "
                      r"unpickModel.out-(\d+); --no_refit keeps it\)$", log, re.M)
    assert refit and completed.start() < refit.start() and lines[-1] == "Refitted model saved in file unpickModel.out"
    info, _ = read_model_info(folder / "unpickModel.out")
    validated, _ = read_model_info(folder / f"unpickModel.out-{refit.group(4)}")
    assert validated.step == int(refit.group(4)) and round(validated.validation_error, 1) == float(completed.group(1))
    assert info.threshold == validated.threshold and f"{info.threshold:.3f}" == refit.group(3)
    assert info.threshold not in (0.0, 0.5)     # the half-F1 rule, which carries over
    # the model files say which rule set the threshold and whether the step cap bound
    assert info.extra["threshold_rule"] == validated.extra["threshold_rule"] == "half F1"
    assert info.extra["capped"] is validated.extra["capped"] is False
    # every user pick and every box beside a particle, validation micrographs included
    n_picks = sum(len(read_training_file(folder / f"{n}_autopick_train.star").xy) for n in names[:3])
    training = info.extra["training"]
    assert int(refit.group(1)) == n_picks + training["refit"]["beside_boxes"]
    assert training["refit"]["beside_boxes"] > training["beside_boxes"]
    assert info.step == int(refit.group(2)) > validated.step and info.validation_error is None
    assert training["refit"]["validated_model"] == f"unpickModel.out-{validated.step}"
    # the refit writes neither checkpoints nor the log's CSV rows
    with open(folder / "unpickModel.out.log.csv") as f:
        assert max(int(r["step"]) for r in csv.DictReader(f)) < validated.step
    assert not (folder / f"unpickModel.out-{info.step}").exists()


def test_beside_points_lie_beside_particles_clear_of_them_and_inside():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1000, size=(200, 2))
    is_particle = rng.random(200) < 0.7
    box = 60
    pts = beside_points(xy, is_particle, box, 1.0, (900, 1000), rng)
    particles = xy[is_particle]
    d = np.hypot(pts[:, None, 0] - particles[None, :, 0], pts[:, None, 1] - particles[None, :, 1])
    assert 0 < len(pts) <= is_particle.sum()
    assert (d.min(axis=1) >= 0.35 * box).all() and (d.min(axis=1) <= 0.5 * box + 1e-9).all()
    assert (pts >= 0).all() and (pts[:, 0] < 1000).all() and (pts[:, 1] < 900).all()
    # N picks are not used as centres; a fraction takes about that share; 0 takes none
    only_n = beside_points(xy, np.zeros(200, bool), box, 1.0, (900, 1000), rng)
    assert len(only_n) == 0
    half = [len(beside_points(xy, is_particle, box, 0.5, (900, 1000), np.random.default_rng(s))) for s in range(20)]
    assert 0.3 * len(pts) < np.mean(half) < 0.7 * len(pts)
    assert len(beside_points(xy, is_particle, box, 0.0, (900, 1000), rng)) == 0
    again = beside_points(xy, is_particle, box, 0.5, (900, 1000), np.random.default_rng(7))
    assert np.array_equal(again, beside_points(xy, is_particle, box, 0.5, (900, 1000), np.random.default_rng(7)))


def test_beside_negatives_outside_0_to_1_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for value in ("-0.1", "1.5"):
        assert train_cmd.main(["--beside_negatives", value]) == 2
        assert f"--beside_negatives must be between 0 and 1, got {float(value)}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_shift_px_outside_the_box_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for args, got in ((["--shift_px", "-1"], -1), (["--shift_px", "16"], 16),
                      (["--resized_box", "8", "--shift_px", "4"], 4)):
        assert train_cmd.main(args) == 2
        err = capsys.readouterr().err
        assert "--shift_px must be at least 0 and under half the resized box" in err and f"got {got}" in err
    assert list(tmp_path.iterdir()) == []


def test_num_epochs_below_one_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert train_cmd.main(["--num_epochs", "0"]) == 2
    assert "--num_epochs must be at least 1, got 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_training_micrograph_missing_names_the_folder_searched(tmp_path, monkeypatch, capsys):
    names = write_demo(tmp_path, n_micrographs=1, n_cleaned=1, level="tiny", seed=3)
    monkeypatch.chdir(tmp_path)
    assert training_set.main(["_autopick.star", "_autopick_correct.star", "_autopick_train.star"]) == 0
    (tmp_path / "mics").mkdir()
    assert train_cmd.main(["--image_dir", "mics", "--train_output", "m.out"]) == 2
    assert (f"Skipped {names[0]}_autopick_train.star: micrograph {names[0]}.mrc not found in "
            f"{(tmp_path / 'mics').resolve()} (--image_dir names the micrographs folder)") in capsys.readouterr().err
    assert not list(tmp_path.glob("m.out*"))


def test_training_set_appends_beside_boxes_labelled_n(tmp_path, monkeypatch):
    names = write_demo(tmp_path, n_micrographs=2, n_cleaned=2, level="easy", seed=3, size_px=256)
    monkeypatch.chdir(tmp_path)
    assert training_set.main(["_autopick.star", "_autopick_correct.star", "_autopick_train.star"]) == 0
    from unpicker.preprocess import Preprocessing

    items = [(n, tmp_path / f"{n}.mrc", read_training_file(tmp_path / f"{n}_autopick_train.star")) for n in names]
    settings = Preprocessing(boxsize_px=30, resized_px=16)
    plain = extract_training_set(items, settings, progress=False)
    more = extract_training_set(items, settings, progress=False, beside_fraction=1.0, seed=5)
    n = len(plain.boxes)
    assert not plain.beside.any() and more.beside[n:].all() and not more.beside[:n].any()
    assert len(more.boxes) > n and not more.is_particle[n:].any()
    np.testing.assert_array_equal(more.boxes[:n], plain.boxes)
    np.testing.assert_array_equal(more.is_particle[:n], plain.is_particle)
    assert set(more.micrograph[n:]) <= {0, 1}
    assert plain.warnings == []
    # a pick outside its micrograph is cut (filled) and named with its training file and line
    picks = items[1][2]
    picks.xy[3] = (-5.0, 40.0)
    named = extract_training_set(items, settings, progress=False)
    assert len(named.boxes) == n and named.warnings == [
        f"{tmp_path / names[1]}_autopick_train.star: 1 of {len(picks.xy)} picks lie outside {names[1]}.mrc"
        f" (256 x 256 px), the first at line {picks.row_lines[3] + 1}: x -5, y 40. Are these coordinates for"
        " this micrograph, at its pixel size?"]


def test_validation_split_is_by_whole_micrograph():
    mic = np.repeat(np.arange(7), 10)
    ts = TrainingSet(np.zeros((70, 2, 2), np.float32), np.zeros(70, bool), mic, [f"m{i}" for i in range(7)])
    mask, names, _ = split_by_micrograph(ts, 0.2, seed=3)
    assert set(mic[mask]).isdisjoint(set(mic[~mask]))
    assert len(names) == 2 and mask.sum() == 20
    again, _, _ = split_by_micrograph(ts, 0.2, seed=3)
    assert np.array_equal(mask, again)
    one = TrainingSet(np.zeros((50, 2, 2), np.float32), np.zeros(50, bool), np.zeros(50, int), ["m"])
    mask, _, note = split_by_micrograph(one, 0.2, seed=0)
    assert 0 < mask.sum() < 50 and "only one training micrograph" in note


def test_unpicks_held_out_micrographs_well_above_keeping_all(trained):
    folder, names, _ = trained
    assert run_eval(folder, "--train_output", "unpickModel.out", "--overwrite") == 0
    s = score_folder(folder, names[3:])
    f1, keep_all_f1 = s["unpicker"][2], s["keep_all"][2]
    assert f1 > keep_all_f1 + 0.15, s


def test_outputs_keep_header_columns_and_row_text_with_scores(trained):
    folder, names, _ = trained
    assert run_eval(folder, "--train_output", "unpickModel.out", "--overwrite", "--write_rejected", "_rejected.star") == 0
    src = (folder / f"{names[4]}_autopick.star").read_text().splitlines()
    out = (folder / f"{names[4]}_autopick_unpick.star").read_text().splitlines()
    rej = (folder / f"{names[4]}_rejected.star").read_text().splitlines()
    header_end = src.index("_rlnAnglePsi #5")
    assert out[:header_end + 1] == src[:header_end + 1] and out[header_end + 1] == "_unpickerScore #6"
    src_rows = set(src[header_end + 1:]) - {""}
    kept = [line for line in out[header_end + 2:] if line]
    rejected = [line for line in rej[header_end + 2:] if line]
    assert len(kept) + len(rejected) == len(src_rows)
    assert {line.rsplit(" ", 1)[0] for line in kept + rejected} == src_rows
    threshold = read_model_info(folder / "unpickModel.out")[0].threshold
    assert all(float(line.rsplit(" ", 1)[1]) >= threshold - 1e-4 for line in kept)
    assert all(float(line.rsplit(" ", 1)[1]) < threshold + 1e-4 for line in rejected)


def test_threshold_eval_file_and_checkpoint_names(trained, capsys):
    folder, names, _ = trained
    one = f"{names[5]}_autopick.star"
    for model in ("unpickModel.out-100", "unpickModel.out-100.seed.weights.h5"):
        assert run_eval(folder, "--train_output", model, "--eval_file", one, "--threshold", "0.0",
                        "--output_root", "_all.star", "--overwrite") == 0
    produced = sorted(p.name for p in folder.glob("*_all.star"))
    assert produced == [f"{names[5]}_all.star"]
    n_in = len(read_star(folder / one).blocks[0].rows)
    assert len(read_star(folder / f"{names[5]}_all.star").blocks[0].rows) == n_in   # threshold 0 keeps all
    assert "Eval Particles: %d" % n_in in capsys.readouterr().out


def test_eval_precision_option_gives_nearly_the_same_scores(trained, capsys):
    folder, names, _ = trained
    one = f"{names[5]}_autopick.star"
    scores = {}
    for precision in ("float32", "bfloat16"):
        assert run_eval(folder, "--train_output", "unpickModel.out", "--eval_file", one, "--threshold", "0.0",
                        "--precision", precision, "--output_root", f"_{precision}.star", "--histogram", "") == 0
        assert f"Network arithmetic: {precision}\n" in capsys.readouterr().out
        scores[precision] = np.array(read_star(folder / f"{names[5]}_{precision}.star").blocks[0].floats("unpickerScore"))
    assert np.ptp(scores["float32"]) > 0.1
    np.testing.assert_allclose(scores["bfloat16"], scores["float32"], atol=0.03)
    assert run_eval(folder, "--train_output", "unpickModel.out", "--eval_file", one, "--precision", "auto",
                    "--output_root", "_auto.star", "--histogram", "") == 0
    assert "(chosen for this CPU)" in capsys.readouterr().out


def test_preprocessing_mismatch_is_an_error_naming_both_values(trained, capsys):
    folder, _, _ = trained
    assert run_eval(folder, "--train_output", "unpickModel.out", "--boxsize", "80") == 2
    err = capsys.readouterr().err
    assert "--boxsize 80 (the model was trained with 54)" in err
    assert run_eval(folder, "--train_output", "unpickModel.out", "--boxsize", "80", "--force",
                    "--output_root", "_forced.star", "--histogram", "") == 0


def test_refuses_to_overwrite_inputs_and_missing_model(trained, capsys):
    folder, _, _ = trained
    assert run_eval(folder, "--train_output", "unpickModel.out", "--output_root", "_autopick.star") == 2
    assert run_eval(folder, "--train_output", "nothere.out") == 2
    assert "nothere.out: model file not found" in capsys.readouterr().err


def test_unreadable_micrograph_is_skipped_others_processed(trained, tmp_path, capsys):
    folder, names, _ = trained
    work = tmp_path / "w"
    work.mkdir()
    for name in names[3:]:
        shutil.copy(folder / f"{name}.mrc", work)
        shutil.copy(folder / f"{name}_autopick.star", work)
    for f in folder.glob("unpickModel.out*"):
        shutil.copy(f, work)
    (work / f"{names[3]}.mrc").write_bytes(b"not an mrc file" * 100)
    assert run_eval(work, "--train_output", "unpickModel.out") == 1
    assert f"{names[3]}.mrc: not a readable MRC" in capsys.readouterr().err
    assert not (work / f"{names[3]}_autopick_unpick.star").exists()
    assert (work / f"{names[4]}_autopick_unpick.star").exists()
    # a second run skips the micrographs already done
    before = (work / f"{names[4]}_autopick_unpick.star").stat().st_mtime_ns
    run_eval(work, "--train_output", "unpickModel.out")
    assert (work / f"{names[4]}_autopick_unpick.star").stat().st_mtime_ns == before
    assert "already unpicked" in capsys.readouterr().out


def test_picks_outside_the_micrograph_are_named_and_still_scored(trained, tmp_path, capsys):
    folder, names, _ = trained
    work = tmp_path / "w"
    work.mkdir()
    name = names[4]
    shutil.copy(folder / f"{name}.mrc", work)
    for f in folder.glob("unpickModel.out*"):
        shutil.copy(f, work)
    block = read_star(folder / f"{name}_autopick.star").blocks[-1]
    n_rows = len(block.rows)
    lines = (folder / f"{name}_autopick.star").read_text().splitlines()[:block.row_lines[-1] + 1]
    row = lines[-1].split()
    row[0], row[1] = "600.5", "12"          # x beyond the 512-px micrograph
    lines.append(" ".join(row))
    row[0], row[1] = "511.9", "-0.1"        # just above its first row
    lines.append(" ".join(row))
    (work / f"{name}_autopick.star").write_text("\n".join(lines) + "\n")
    assert run_eval(work, "--train_output", "unpickModel.out", "--threshold", "0") == 0
    err = capsys.readouterr().err
    assert (f"Warning: {name}_autopick.star: 2 of {n_rows + 2} picks lie outside {name}.mrc (512 x 512 px), "
            f"the first at line {len(lines) - 1}: x 600.5, y 12.") in err
    assert len(read_star(work / f"{name}_autopick_unpick.star").blocks[-1].rows) == n_rows + 2
    # picks inside, up to the last pixel, give no warning
    lines[-2:] = [lines[-2].replace("600.5", "511.9"), lines[-1].replace("-0.1", "0")]
    (work / f"{name}_autopick.star").write_text("\n".join(lines) + "\n")
    assert run_eval(work, "--train_output", "unpickModel.out", "--overwrite") == 0
    assert "outside" not in capsys.readouterr().err


def test_relion4_coordinate_list_in_and_out(trained, tmp_path, capsys):
    """RELION 4/5: --eval_file names AutoPick/jobNNN/autopick.star; each listed
    file is unpicked beside itself and a list of the outputs is written."""
    folder, names, _ = trained
    mics, picks = tmp_path / "MotionCorr/job002/Movies", tmp_path / "AutoPick/job006/Movies"
    mics.mkdir(parents=True)
    picks.mkdir(parents=True)
    for f in folder.glob("unpickModel.out*"):
        shutil.copy(f, tmp_path)
    rows = []
    for name in names[3:6]:
        shutil.copy(folder / f"{name}.mrc", mics)
        shutil.copy(folder / f"{name}_autopick.star", picks)
        rows.append(f"MotionCorr/job002/Movies/{name}.mrc AutoPick/job006/Movies/{name}_autopick.star")
    (mics / f"{names[5]}.mrc").unlink()         # a micrograph gone: reported, left out of the list
    listed = tmp_path / "AutoPick/job006/autopick.star"
    listed.write_text("\n# version 30001\n\ndata_coordinate_files\n\nloop_ \n_rlnMicrographName #1 \n"
                      "_rlnMicrographCoordinates #2 \n" + "\n".join(rows) + "\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.star")}
    assert run_eval(tmp_path, "--train_output", "unpickModel.out", "--eval_file", "AutoPick/job006/autopick.star",
                    "--threshold", "0.5") == 1
    captured = capsys.readouterr()
    assert "Coordinate list AutoPick/job006/autopick.star: 3 micrographs" in captured.out
    assert f"Skipped {names[5]}: MotionCorr/job002/Movies/{names[5]}.mrc" in captured.err
    assert all(p.read_bytes() == text for p, text in before.items())    # inputs untouched
    out = read_star(tmp_path / "AutoPick/job006/autopick_unpick.star")
    block = out.block("coordinate_files")
    assert block.columns == ["rlnMicrographName", "rlnMicrographCoordinates"]
    assert block.rows == [[f"MotionCorr/job002/Movies/{n}.mrc", f"AutoPick/job006/Movies/{n}_autopick_unpick.star"]
                          for n in names[3:5]]
    for name in names[3:5]:     # the same outputs as the per-file mode gives
        run_eval(folder, "--train_output", "unpickModel.out", "--eval_file", f"{name}_autopick.star",
                 "--threshold", "0.5", "--output_root", "_flat.star", "--overwrite")
        assert (picks / f"{name}_autopick_unpick.star").read_text() == (folder / f"{name}_flat.star").read_text()
    # run from elsewhere, the list's relative paths lead nowhere: an error that says so
    elsewhere = tmp_path / "AutoPick"
    assert run_eval(elsewhere, "--train_output", "../unpickModel.out", "--eval_file", "job006/autopick.star") == 2
    assert "relative to the RELION project directory" in capsys.readouterr().err


def test_relion4_lists_for_the_training_set_and_training(tmp_path, monkeypatch, capsys):
    """trainingSetFromStarFiles.py and unpicker_train.py take RELION 4/5 lists,
    with micrographs and picks in several folders, run in the project directory."""
    flat = tmp_path / "flat"
    names = write_demo(flat, n_micrographs=3, n_cleaned=2, level="tiny", seed=4)
    rows = []
    for i, name in enumerate(names):
        sub = "a" if i < 2 else "b"
        mics, picks = tmp_path / "MotionCorr/job002/Movies" / sub, tmp_path / "AutoPick/job006/Movies" / sub
        mics.mkdir(parents=True, exist_ok=True)
        picks.mkdir(parents=True, exist_ok=True)
        shutil.copy(flat / f"{name}.mrc", mics)
        for f in flat.glob(f"{name}_autopick*.star"):
            shutil.copy(f, picks)
        rows.append(f"MotionCorr/job002/Movies/{sub}/{name}.mrc AutoPick/job006/Movies/{sub}/{name}_autopick.star")
    (tmp_path / "AutoPick/job006/autopick.star").write_text(
        "\n# version 30001\n\ndata_coordinate_files\n\nloop_\n_rlnMicrographName #1\n_rlnMicrographCoordinates #2\n"
        + "\n".join(rows) + "\n")
    monkeypatch.chdir(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.star")}
    # an output suffix equal to the autopick files' is refused before anything is written
    assert training_set.main(["AutoPick/job006/autopick.star", "_autopick_correct.star", "_autopick.star"]) == 2
    assert "would overwrite the input files" in capsys.readouterr().err
    assert training_set.main(["AutoPick/job006/autopick.star", "_autopick_correct.star", "_autopick_train.star"]) == 0
    assert ("Training files listed in AutoPick/job006/autopick_train.star (unpicker_train.py --train_root "
            "AutoPick/job006/autopick_train.star)") in capsys.readouterr().out
    assert all(p.read_bytes() == text for p, text in before.items())
    train_list = read_star("AutoPick/job006/autopick_train.star").block("coordinate_files")
    assert train_list.rows == [[f"MotionCorr/job002/Movies/a/{n}.mrc", f"AutoPick/job006/Movies/a/{n}_autopick_train.star"]
                               for n in names[:2]]
    # the same labels as the original layout gives (one folder, suffixes)
    monkeypatch.chdir(flat)
    assert training_set.main(["_autopick.star", "_autopick_correct.star", "_flat_train.star"]) == 0
    for n in names[:2]:
        assert ((tmp_path / "AutoPick/job006/Movies/a" / f"{n}_autopick_train.star").read_text()
                == (flat / f"{n}_flat_train.star").read_text())
    # cleaned in a ManualPick job instead: its list, matched by micrograph, gives the same training files
    manual = tmp_path / "ManualPick/job010/Movies/a"
    manual.mkdir(parents=True)
    for n in names[:2]:
        shutil.copy(flat / f"{n}_autopick_correct.star", manual / f"{n}_manualpick.star")
    (tmp_path / "ManualPick/job010/manualpick.star").write_text(
        "\ndata_coordinate_files\n\nloop_\n_rlnMicrographName #1\n_rlnMicrographCoordinates #2\n" + "".join(
            f"MotionCorr/job002/Movies/a/{n}.mrc ManualPick/job010/Movies/a/{n}_manualpick.star\n" for n in names[:2]))
    monkeypatch.chdir(tmp_path)
    assert training_set.main(["AutoPick/job006/autopick.star", "ManualPick/job010/manualpick.star",
                              "_manual_train.star"]) == 0
    for n in names[:2]:
        assert ((tmp_path / "AutoPick/job006/Movies/a" / f"{n}_manual_train.star").read_text()
                == (flat / f"{n}_flat_train.star").read_text())
    assert len(read_star("AutoPick/job006/autopick_manual_train.star").block("coordinate_files").rows) == 2
    assert train_cmd.main(["--train_root", "AutoPick/job006/autopick_train.star", "--train_output", "m.out",
                           "--boxsize", "54", "--num_epochs", "1", "--no_progress"]) == 0
    info, _ = read_model_info(tmp_path / "m.out")
    assert info.extra["training"]["micrographs"] == names[:2]
    capsys.readouterr()
    # run outside the project directory, the lists' paths lead nowhere: said so
    monkeypatch.chdir(tmp_path / "AutoPick")
    assert training_set.main(["job006/autopick.star", "_autopick_correct.star", "_autopick_train.star"]) == 2
    assert "relative to the RELION project directory" in capsys.readouterr().err


def test_coordinate_list_output_names():
    from pathlib import Path

    from unpicker.coords import list_output_path

    p = Path("AutoPick/job006/autopick.star")
    assert list_output_path(p, "_autopick.star", "_autopick_unpick.star") == Path("AutoPick/job006/autopick_unpick.star")
    assert list_output_path(p, "_autopick.star", "_clean.star") == Path("AutoPick/job006/autopick_clean.star")


def train_in(folder, *train_args) -> int:
    """Make the training files of a demo folder and run unpicker_train.py there."""
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        training_set.main(["_autopick.star", "_autopick_correct.star", "_autopick_train.star"])
        return train_cmd.main(["--boxsize", "54", "--no_progress", *train_args])
    finally:
        os.chdir(cwd)


def test_seed_network_trains_and_evaluates(tmp_path):
    write_demo(tmp_path, n_micrographs=2, n_cleaned=2, level="tiny", seed=2)
    assert train_in(tmp_path, "--train_output", "seed.out", "--network", "seed", "--num_epochs", "1") == 0
    assert read_model_info(tmp_path / "seed.out")[0].network == "seed"
    assert run_eval(tmp_path, "--train_output", "seed.out") == 0


def test_default_ensemble_trains_both_networks_side_by_side(tmp_path, capsys, monkeypatch):
    import unpicker.model

    write_demo(tmp_path, n_micrographs=3, n_cleaned=3, level="tiny", seed=3)
    assert train_in(tmp_path, "--train_output", "ens.out", "--num_epochs", "2") == 0
    log = capsys.readouterr().out
    assert "Networks: resnet and seed, each learning from every batch; each classifies 2 of the 4 test-time views" in log
    info, networks = read_model_info(tmp_path / "ens.out")
    assert info.network == "resnet+seed" and [m.network for m, _ in networks] == ["resnet", "seed"]
    assert [w.name for _, w in networks] == ["ens.out.resnet.weights.h5", "ens.out.seed.weights.h5"]
    # every checkpoint is the whole ensemble, named as the original named them
    ckpt_info, ckpt_networks = read_model_info(tmp_path / "ens.out-0")
    assert ckpt_info.step == 0 and [w.name for _, w in ckpt_networks] == ["ens.out-0.resnet.weights.h5",
                                                                          "ens.out-0.seed.weights.h5"]

    # evaluation gives each network its half of the views (all of them under --tta 1)
    seen = []
    real = unpicker.model.ensemble_probability
    monkeypatch.setattr(unpicker.model, "ensemble_probability",
                        lambda nets, boxes: seen.append([v for *_, v in nets]) or real(nets, boxes))
    assert run_eval(tmp_path, "--train_output", "ens.out") == 0
    assert seen[0] == [(0, 2), (1, 3)]
    seen.clear()
    assert run_eval(tmp_path, "--train_output", "ens.out-0", "--tta", "1", "--overwrite") == 0
    assert seen[0] == [(0,), (0,)]

    (tmp_path / "ens.out.seed.weights.h5").unlink()
    assert run_eval(tmp_path, "--train_output", "ens.out", "--overwrite") == 2
    assert "ens.out: its seed weights file ens.out.seed.weights.h5 is missing" in capsys.readouterr().err


def test_no_refit_keeps_the_validated_model(tmp_path, capsys):
    write_demo(tmp_path, n_micrographs=3, n_cleaned=3, level="tiny", seed=3)
    assert train_in(tmp_path, "--train_output", "plain.out", "--num_epochs", "2", "--no_refit") == 0
    log = capsys.readouterr().out
    assert "Refit" not in log and "refit" not in read_model_info(tmp_path / "plain.out")[0].extra["training"]
    checkpoints = [p.name for p in tmp_path.glob("plain.out-*") if not p.name.endswith(".h5")]
    assert checkpoints == ["plain.out-0"]      # fewer than 100 steps, and no copy of the final model
    assert train_in(tmp_path, "--train_output", "refit.out", "--num_epochs", "2") == 0
    log = capsys.readouterr().out
    assert "Refitting on all 3 training micrographs" in log
    # the same seed: the refit run's validated model is the --no_refit model, and the refit another
    from unpicker.model import build_network

    def weights(name):
        nets = []
        for member, path in read_model_info(tmp_path / name)[1]:
            model = build_network(member.network, 32)
            model.load_weights(path)
            nets.append(np.concatenate([w.ravel() for w in model.get_weights()]))
        return np.concatenate(nets)

    validated = read_model_info(tmp_path / "refit.out")[0].extra["training"]["refit"]["validated_model"]
    np.testing.assert_array_equal(weights("plain.out"), weights(validated))
    assert not np.array_equal(weights("plain.out"), weights("refit.out"))
    assert read_model_info(tmp_path / validated)[0].threshold == read_model_info(tmp_path / "plain.out")[0].threshold


def test_refit_only_where_the_threshold_carries_over_and_training_was_not_capped():
    from unpicker.train import refit_skipped

    assert refit_skipped("half F1", False) is None and refit_skipped("too few", False) is None
    assert "keep every pick" in refit_skipped("keep all", False)
    assert "own scores" in refit_skipped("best cut", False)
    assert "step cap" in refit_skipped("half F1", True)


def test_ensemble_files_of_the_earlier_layout_still_load(tmp_path):
    """Before the networks were trained side by side, an ensemble named two
    whole model files, each of which classified every view."""
    import json

    from unpicker.modelfile import ModelInfo, shares_views, write_model_info
    from unpicker.preprocess import Preprocessing

    settings = Preprocessing(boxsize_px=54, resized_px=32)
    for network in ("resnet", "seed"):
        (tmp_path / f"old.out.{network}.weights.h5").write_bytes(b"weights")
        write_model_info(tmp_path / f"old.out.{network}", ModelInfo(network, settings, logit_shift=0.25))
    write_model_info(tmp_path / "old.out", ModelInfo("resnet+seed", settings, threshold=0.3,
                                                    members=["old.out.resnet", "old.out.seed"]))
    assert json.loads((tmp_path / "old.out").read_text())["members"] == ["old.out.resnet", "old.out.seed"]
    info, networks = read_model_info(tmp_path / "old.out")
    assert info.threshold == 0.3 and not shares_views(info)
    assert [(m.network, m.logit_shift, w.name) for m, w in networks] == [
        ("resnet", 0.25, "old.out.resnet.weights.h5"), ("seed", 0.25, "old.out.seed.weights.h5")]


def test_ensemble_step_cap_and_single_networks_uncapped(tmp_path, capsys):
    write_demo(tmp_path, n_micrographs=2, n_cleaned=2, level="tiny", seed=4)
    assert train_in(tmp_path, "--train_output", "cap.out", "--num_epochs", "3", "--max_steps", "2") == 0
    log = capsys.readouterr().out
    assert re.search(r"^Training 2 steps \([\d.]+ epochs\) of the \d+ that 3 epochs take: at most 2 steps, "
                     r"as asked", log, re.M)
    assert read_model_info(tmp_path / "cap.out")[0].step == 2

    from unpicker.train import ENSEMBLE_MAX_STEPS, TrainConfig, step_cap

    assert step_cap(TrainConfig()) == ENSEMBLE_MAX_STEPS
    assert step_cap(TrainConfig(network="resnet")) is None and step_cap(TrainConfig(network="seed")) is None
    assert step_cap(TrainConfig(max_steps=0)) is None and step_cap(TrainConfig(network="seed", max_steps=7)) == 7

    from unpicker.train import network_names

    assert network_names("resnet+seed") == ["resnet", "seed"] and network_names("seed") == ["seed"]
    for bad in ("resnet+resnet", "resnet+vgg", ""):
        with pytest.raises(ValueError, match="unknown network"):
            network_names(bad)


def test_default_epochs_are_25_for_the_ensemble_and_the_originals_15_for_one_network(tmp_path, capsys):
    write_demo(tmp_path, n_micrographs=2, n_cleaned=2, level="tiny", seed=4)
    for network, epochs in (("resnet+seed", 25), ("seed", 15)):
        out = f"{network.replace('+', '_')}.out"
        assert train_in(tmp_path, "--train_output", out, "--network", network, "--max_steps", "1") == 0
        assert f"that {epochs} epochs take: at most 1 steps" in capsys.readouterr().out
        assert read_model_info(tmp_path / out)[0].extra["training"]["num_epochs"] == epochs

    from unpicker.train import TrainConfig, train_epochs

    assert train_epochs(TrainConfig(num_epochs=3)) == 3 and train_epochs(TrainConfig(network="resnet")) == 15


def test_member_views_deal_the_views_out_in_turn():
    from unpicker.boxes import member_views

    assert member_views(4, 0, 2) == (0, 2) and member_views(4, 1, 2) == (1, 3)
    assert member_views(8, 1, 2) == (1, 3, 5, 7)
    assert member_views(1, 1, 2) == (0,)                  # fewer views than networks: each sees them all
    assert member_views(4, 0, 1) == (0, 1, 2, 3)


def test_ensemble_margin_averages_each_networks_own_views():
    import keras
    from unpicker.model import ensemble_margin, particle_margin

    # the particle logit is the mean of the box's top row; 180 degrees turns
    # the bottom row to the top, 90 and 270 degrees the side columns
    inputs = keras.Input((5, 5, 1))
    top = keras.layers.Lambda(lambda x: keras.ops.mean(x[:, 0, :, 0], axis=1, keepdims=True))(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([keras.ops.zeros_like(top), top]))
    boxes = np.random.default_rng(6).normal(size=(7, 5, 5)).astype(np.float32)
    rows = (boxes[:, 0, :].mean(1) + boxes[:, -1, :].mean(1)) / 2
    columns = (boxes[:, :, 0].mean(1) + boxes[:, :, -1].mean(1)) / 2
    np.testing.assert_allclose(particle_margin(model, boxes, symmetries=(0, 2)), rows, rtol=1e-5)
    np.testing.assert_allclose(particle_margin(model, boxes, symmetries=(1, 3)), columns, rtol=1e-5)
    np.testing.assert_allclose(ensemble_margin([(model, 0.0, (0, 2)), (model, 1.0, (1, 3))], boxes),
                               (rows + columns + 1.0) / 2, rtol=1e-5)


def test_demo_runs_end_to_end(tmp_path):
    r = subprocess.run([sys.executable, "-m", "unpicker.commands.demo", "--folder", str(tmp_path / "demo"),
                        "--level", "tiny", "--micrographs", "3", "--cleaned", "2", "--epochs", "2", "--quiet"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "emUnpicker       precision" in r.stdout and "keep every pick" in r.stdout
    # unpicker_train.py's defaults train on the user's picks alone (no boxes beside the particles)
    training = read_model_info(tmp_path / "demo" / "unpickModel.out")[0].extra["training"]
    assert training["beside_negatives"] == 0 and training["beside_boxes"] == 0


def test_logit_shift_undoes_class_weighting():
    import keras
    from unpicker.model import particle_probability

    inputs = keras.Input((2, 2, 1))
    logits = keras.layers.Lambda(lambda x: keras.ops.zeros((keras.ops.shape(x)[0], 2)))(inputs)
    model = keras.Model(inputs, logits)
    boxes = np.zeros((3, 2, 2), np.float32)
    np.testing.assert_allclose(particle_probability(model, boxes), 0.5)
    # 80 % particles: an indifferent weighted model means P = 0.8
    np.testing.assert_allclose(particle_probability(model, boxes, logit_shift=np.log(4.0)), 0.8, rtol=1e-6)


def test_loss_weights_keep_the_users_picks_calibrated_with_boxes_beside():
    from unpicker.train import loss_weights

    # 300 user picks, 70 % particles, and 200 boxes beside particles
    is_particle = np.r_[np.ones(210, bool), np.zeros(90, bool), np.zeros(200, bool)]
    beside = np.r_[np.zeros(300, bool), np.ones(200, bool)]
    weight, shift = loss_weights(is_particle, beside)
    assert weight.mean() == pytest.approx(1.0) and (weight > 0).all()
    # a network that cannot tell the user's picks apart learns, for them, the
    # weighted log-odds; with the shift that must be the share of particles
    user = ~beside
    learnt = np.log(weight[user & is_particle].sum() / weight[user & ~is_particle].sum())
    assert 1 / (1 + np.exp(-(learnt + shift))) == pytest.approx(0.7)
    # a box beside a particle weighs as one of the user's removals
    assert weight[beside][0] == pytest.approx(weight[user & ~is_particle][0])
    # without boxes beside, the weights are the inverse class frequencies (to the bit, as before them)
    plain, plain_shift = loss_weights(is_particle[user])
    np.testing.assert_array_equal(plain, np.where(is_particle[user], 300 / 420, 300 / 180).astype(np.float32))
    assert plain_shift == pytest.approx(np.log(210 / 90))
    with pytest.raises(ValueError, match="non-particles"):
        loss_weights(is_particle, is_particle)


def test_test_time_averaging_averages_the_logit_over_the_rotations():
    import keras
    from unpicker.model import particle_probability

    # a "network" whose particle logit is the mean of the box's top row: over
    # the four 90-degree rotations that averages the four edges
    inputs = keras.Input((5, 5, 1))
    top = keras.layers.Lambda(lambda x: keras.ops.mean(x[:, 0, :, 0], axis=1, keepdims=True))(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([keras.ops.zeros_like(top), top]))
    boxes = np.random.default_rng(4).normal(size=(7, 5, 5)).astype(np.float32)
    edges = (boxes[:, 0, :].mean(1) + boxes[:, -1, :].mean(1) + boxes[:, :, 0].mean(1) + boxes[:, :, -1].mean(1)) / 4
    np.testing.assert_allclose(particle_probability(model, boxes, symmetries=4, batch_size=3),
                               1 / (1 + np.exp(-edges)), rtol=1e-5)
    np.testing.assert_allclose(particle_probability(model, boxes), 1 / (1 + np.exp(-boxes[:, 0, :].mean(1))),
                               rtol=1e-5)


def test_padded_batches_give_the_same_scores_in_batches_of_one_size():
    import keras
    from unpicker.model import particle_probability

    inputs = keras.Input((5, 5, 1))
    top = keras.layers.Lambda(lambda x: keras.ops.mean(x[:, 0, :, 0], axis=1, keepdims=True))(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([keras.ops.zeros_like(top), top]))
    sizes = []
    predict = model.predict_on_batch
    model.predict_on_batch = lambda x: sizes.append(len(x)) or predict(x)
    boxes = np.random.default_rng(5).normal(size=(7, 5, 5)).astype(np.float32)
    plain = particle_probability(model, boxes, symmetries=4, batch_size=10, pad_to=0)
    assert sizes == [10, 10, 8]                       # 28 views in 3 near-equal batches
    sizes.clear()
    padded = particle_probability(model, boxes, symmetries=4, batch_size=10, pad_to=8)
    assert sizes == [16, 16]                          # 16 + 12 views, the second padded
    np.testing.assert_allclose(padded, plain, rtol=1e-6)


def test_inference_network_folds_batch_norm_and_keeps_the_logits():
    import keras
    from unpicker.model import build_network, inference_network

    model = build_network("resnet", 16)
    rng = np.random.default_rng(6)
    for layer in model.layers:      # statistics far from the initial ones, as after training
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, c), rng.normal(0, 0.5, c), rng.normal(0, 0.5, c),
                               rng.uniform(0.2, 3, c)])
    fast = inference_network(model)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in fast.layers)
    assert fast.count_params() < model.count_params()
    boxes = rng.normal(size=(20, 16, 16, 1)).astype(np.float32)
    expected = np.asarray(model.predict_on_batch(boxes))
    assert np.ptp(expected) > 1                                   # the check below means something
    np.testing.assert_allclose(np.asarray(fast.predict_on_batch(boxes)), expected, rtol=1e-4, atol=1e-4)
    seed = build_network("seed", 16)
    assert inference_network(seed) is seed


def test_bfloat16_inference_network_keeps_the_logits_close():
    import keras
    from unpicker.model import build_network, inference_network

    rng = np.random.default_rng(7)
    boxes = rng.normal(size=(64, 16, 16, 1)).astype(np.float32)
    for name in ("resnet", "seed"):
        model = build_network(name, 16)
        fast = inference_network(model, "bfloat16")
        policies = {layer.name: layer.dtype_policy.name for layer in fast.layers if layer.weights}
        assert policies.pop("logits" if name == "resnet" else fast.layers[-1].name) == "float32"
        assert set(policies.values()) == {"bfloat16"}
        full = np.asarray(inference_network(model).predict_on_batch(boxes), np.float64)
        half = np.asarray(fast.predict_on_batch(boxes), np.float64)
        assert half.dtype == np.float64 and np.isfinite(half).all()
        margin_full, margin_half = full[:, 1] - full[:, 0], half[:, 1] - half[:, 0]
        assert np.ptp(margin_full) > 0.05                           # the comparison means something
        # bfloat16 keeps 8 bits of mantissa: about 1% of the logits' scale
        assert np.abs(margin_half - margin_full).max() < 0.05 * np.abs(margin_full).max() + 1e-3
        assert np.corrcoef(margin_full, margin_half)[0, 1] > 0.99
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        inference_network(model, "float16")


def test_auto_precision_uses_bfloat16_only_where_the_cpu_has_it(monkeypatch):
    from unpicker import model as m
    from unpicker import train

    assert m.cpu_has_bfloat16("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n")
    assert m.cpu_has_bfloat16("flags\t: fpu sse2 amx_bf16 amx_tile\n")
    assert not m.cpu_has_bfloat16("flags\t: fpu sse2 avx2 avx512f avx512bw\n")
    assert not m.cpu_has_bfloat16("model name\t: something without a flags line\n")
    monkeypatch.setattr(m.keras.backend, "backend", lambda: "tensorflow")
    monkeypatch.setattr(train, "gpu_present", lambda: False)
    monkeypatch.setattr(m, "cpu_has_bfloat16", lambda: True)
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert m.resolve_precision("auto") == "bfloat16"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")      # TensorFlow without its fast bfloat16 kernels
    assert m.resolve_precision("auto") == "float32"
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    assert m.resolve_precision("float32") == "float32"
    monkeypatch.setattr(m, "cpu_has_bfloat16", lambda: False)
    assert m.resolve_precision("auto") == "float32"
    assert m.resolve_precision("bfloat16") == "bfloat16"
    monkeypatch.setattr(m, "cpu_has_bfloat16", lambda: True)
    monkeypatch.setattr(train, "gpu_present", lambda: True)
    assert m.resolve_precision("auto") == "float32"
    monkeypatch.setattr(train, "gpu_present", lambda: False)
    monkeypatch.setattr(m.keras.backend, "backend", lambda: "jax")
    assert m.resolve_precision("auto") == "float32"
    with pytest.raises(ValueError, match="precision must be one of"):
        m.resolve_precision("half")


def test_precision_setting_sets_the_keras_policy():
    import keras
    from unpicker.train import configure_backend

    try:
        configure_backend(1, None, "mixed")
        assert keras.mixed_precision.dtype_policy().name == "mixed_float16"
        configure_backend(1, None, "bfloat16")
        assert keras.mixed_precision.dtype_policy().name == "mixed_bfloat16"
    finally:
        configure_backend(1, None, "float32")
    assert keras.mixed_precision.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match="precision"):
        configure_backend(1, None, "half")
    assert train_cmd.build_parser().parse_args([]).precision == "auto"


def test_training_precision_auto_follows_evaluations_rule(monkeypatch):
    from unpicker import model as m
    from unpicker.train import resolve_training_precision

    monkeypatch.setattr(m, "resolve_precision", lambda p: "bfloat16" if p == "auto" else p)
    assert resolve_training_precision("auto") == "bfloat16"
    monkeypatch.setattr(m, "resolve_precision", lambda p: "float32" if p == "auto" else p)
    assert resolve_training_precision("auto") == "float32"
    for given in ("float32", "mixed", "bfloat16"):       # asked for: as given, whatever the CPU
        assert resolve_training_precision(given) == given
    with pytest.raises(ValueError, match="precision must be auto or one of"):
        resolve_training_precision("half")


def _small_boxes():
    """160 separable 16-px boxes and their labels (particles: a bright centre)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 16, 16)).astype(np.float32)
    y = rng.random(160) < 0.5
    x[y, 6:10, 6:10] += 2.0
    return x, y


def _train_small(folder, tag, held_out_micrographs=True, **config_args):
    """Train on the first 120 of ``_small_boxes``; return the model's scores of
    the other 40 (the validation boxes)."""
    import io

    from unpicker.model import build_network, ensemble_probability
    from unpicker.preprocess import Preprocessing
    from unpicker.train import TrainConfig, train_model

    x, y = _small_boxes()
    settings = Preprocessing(boxsize_px=16, resized_px=16)
    config = TrainConfig(**{"num_epochs": 2, "seed": 7, "num_cores": 2, "batch_size": 32, **config_args})
    r = train_model(x[:120], y[:120], x[120:], y[120:], settings, config, folder / f"{tag}.out",
                    out=io.StringIO(), progress=False, held_out_micrographs=held_out_micrographs)
    assert r.steps == config.num_epochs * 4 * 120 // 32
    networks = []
    for member, weights in read_model_info(folder / f"{tag}.out")[1]:
        model = build_network(member.network, 16)
        model.load_weights(weights)
        networks.append((model, member.logit_shift, (0,)))
    return ensemble_probability(networks, x[120:])


def test_one_training_micrograph_stores_keep_everything(tmp_path):
    from unpicker.modelfile import read_model_info

    _train_small(tmp_path, "one", held_out_micrographs=False, num_epochs=1)
    _train_small(tmp_path, "many", held_out_micrographs=True, num_epochs=1)
    assert read_model_info(tmp_path / "one.out")[0].threshold == 0.0
    assert read_model_info(tmp_path / "many.out")[0].threshold > 0.0


def test_same_seed_gives_the_same_model_on_cpu(tmp_path):
    np.testing.assert_array_equal(_train_small(tmp_path, "a"), _train_small(tmp_path, "b"))


def test_bfloat16_training_learns_the_boxes(tmp_path, monkeypatch):
    """``--precision bfloat16`` trains in bfloat16 with float32 weights; the
    model it saves separates the validation boxes as a float32 one does, and
    models built after the training are float32 again."""
    import keras
    from unpicker import model as m

    built_under = []

    def spy(name, size):
        net = build(name, size)
        built_under.append(net.layers[1].dtype_policy.name)
        return net

    build = m.build_network
    monkeypatch.setattr(m, "build_network", spy)
    labels = _small_boxes()[1][120:]
    prob = _train_small(tmp_path, "bf16", precision="bfloat16")
    assert built_under[0] == "mixed_bfloat16"                        # what it trained under
    assert keras.mixed_precision.dtype_policy().name == "float32"    # put back after it
    assert built_under[-1] == "float32"                              # _train_small's own model, built after
    assert np.isfinite(prob).all()
    assert prob[labels].min() > prob[~labels].max()
