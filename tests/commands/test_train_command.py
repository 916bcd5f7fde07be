"""unpicker_train.py: log lines, checkpoints, refit, networks and flags."""
from __future__ import annotations

import csv
import re
import shutil

import numpy as np
import pytest

from conftest import run_eval, train_in
from unpicker.commands import train as train_cmd
from unpicker.commands import training_set
from unpicker.demo import write_demo
from unpicker.formats.star import read_star
from unpicker.labels import read_training_file
from unpicker.networks.model_file import read_model_info


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
    assert info.extra["training"]["shift_px"] == 2   # a sixteenth of the 32-px resized box
    # --precision auto: bfloat16 on a CPU with bfloat16 instructions, float32 elsewhere
    from unpicker.networks.backend import resolve_precision

    precision = resolve_precision("auto")
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
    assert refit, log
    n_boxes, n_steps, threshold, validated_step = refit.groups()
    assert refit and completed.start() < refit.start() and lines[-1] == "Refitted model saved in file unpickModel.out"
    info, _ = read_model_info(folder / "unpickModel.out")
    validated, _ = read_model_info(folder / f"unpickModel.out-{validated_step}")
    assert validated.step == int(validated_step) and round(validated.validation_error, 1) == float(completed.group(1))
    assert info.threshold == validated.threshold and f"{info.threshold:.3f}" == threshold
    assert info.threshold not in (0.0, 0.5)     # the half-F1 rule, which carries over
    # the model files say which rule set the threshold and whether the step cap bound
    assert info.extra["threshold_rule"] == validated.extra["threshold_rule"] == "half F1"
    assert info.extra["capped"] is validated.extra["capped"] is False
    # every pick, validation micrographs included; no self-training unless asked
    n_picks = sum(len(read_training_file(folder / f"{n}_autopick_train.star").xy) for n in names[:3])
    training = info.extra["training"]
    assert int(n_boxes) == n_picks and "Self-training" not in log
    assert info.step == int(n_steps) > validated.step and info.validation_error is None
    assert training["refit"]["validated_model"] == f"unpickModel.out-{validated.step}"
    assert training["refit"]["pseudo_labels"] is None
    # the refit writes neither checkpoints nor the log's CSV rows
    with open(folder / "unpickModel.out.log.csv") as f:
        assert max(int(r["step"]) for r in csv.DictReader(f)) < validated.step
    assert not (folder / f"unpickModel.out-{info.step}").exists()


def test_shift_px_outside_the_box_and_boxes_enlarged_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for args, got in ((["--shift_px", "16"], 16), (["--resized_box", "8", "--shift_px", "4"], 4)):
        assert train_cmd.main(args) == 2
        err = capsys.readouterr().err
        assert "--shift_px must be at least 0 and under half the resized box" in err and f"got {got}" in err
    assert train_cmd.main(["--boxsize", "40", "--resized_box", "64"]) == 2
    assert "--resized_box 64 is larger than --boxsize 40" in capsys.readouterr().err
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
    assert "an input of this run" in capsys.readouterr().err
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


def test_seed_network_trains_and_evaluates(tmp_path):
    write_demo(tmp_path, n_micrographs=2, n_cleaned=2, level="tiny", seed=2)
    assert train_in(tmp_path, "--train_output", "seed.out", "--network", "seed", "--num_epochs", "1") == 0
    assert read_model_info(tmp_path / "seed.out")[0].network == "seed"
    assert run_eval(tmp_path, "--train_output", "seed.out") == 0


def test_default_ensemble_trains_both_networks_side_by_side(tmp_path, capsys, monkeypatch):
    from unpicker.networks import scoring

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
    real = scoring.ensemble_probability
    monkeypatch.setattr(scoring, "ensemble_probability",
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
    from unpicker.networks.architectures import build_network

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


def test_ensemble_step_cap_and_single_networks_uncapped(tmp_path, capsys):
    write_demo(tmp_path, n_micrographs=2, n_cleaned=2, level="tiny", seed=4)
    assert train_in(tmp_path, "--train_output", "cap.out", "--num_epochs", "3", "--max_steps", "2") == 0
    log = capsys.readouterr().out
    assert re.search(r"^Training 2 steps \([\d.]+ epochs\) of the \d+ that 3 epochs take: at most 2 steps, "
                     r"as asked", log, re.M)
    assert read_model_info(tmp_path / "cap.out")[0].step == 2


def test_default_epochs_are_25_for_the_ensemble_and_the_originals_15_for_one_network(tmp_path, capsys):
    write_demo(tmp_path, n_micrographs=2, n_cleaned=2, level="tiny", seed=4)
    for network, epochs in (("resnet+seed", 25), ("seed", 15)):
        out = f"{network.replace('+', '_')}.out"
        assert train_in(tmp_path, "--train_output", out, "--network", network, "--max_steps", "1") == 0
        assert f"that {epochs} epochs take: at most 1 steps" in capsys.readouterr().out
        assert read_model_info(tmp_path / out)[0].extra["training"]["num_epochs"] == epochs


def test_self_training_reads_the_uncleaned_micrographs_picks(tmp_path, monkeypatch, capsys):
    """--unlabelled: every autopick file but the cleaned ones' (default) or a
    RELION 4/5 list; micrographs not found left out; at most
    MAX_UNLABELLED_MICROGRAPHS, the same ones for the same seed."""
    names = write_demo(tmp_path, n_micrographs=5, n_cleaned=1, level="tiny", seed=3)
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"{names[4]}.mrc").unlink()
    (tmp_path / f"{names[3]}_autopick.star").write_text("data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n1 x\n")

    def found(*argv):
        items, _ = train_cmd._unlabelled_items(train_cmd.build_parser().parse_args(list(argv)), {names[0]})
        return [(name, mrc.name, len(picks.xy)) for name, mrc, picks in items]

    every = found()
    assert [n for n, _, _ in every] == names[1:3]      # not the cleaned one, the unreadable file or the one without a micrograph
    assert all(mrc == f"{n}.mrc" and k == len(read_star(f"{n}_autopick.star").blocks[0].rows) for n, mrc, k in every)
    assert f"{names[3]}_autopick.star" in capsys.readouterr().err
    (tmp_path / "autopick.star").write_text(
        "data_coordinate_files\nloop_\n_rlnMicrographName #1\n_rlnMicrographCoordinates #2\n"
        + "".join(f"{n}.mrc {n}_autopick.star\n" for n in names[:3]))
    assert found("--unlabelled", "autopick.star") == every
    monkeypatch.setattr(train_cmd, "MAX_UNLABELLED_MICROGRAPHS", 1)
    one = found("--seed", "5")
    assert len(one) == 1 and one[0] in every and found("--seed", "5") == one


def test_preprocessing_chosen_by_validation_and_self_training(tmp_path, capsys):
    """--preprocessing choose, the default: a short training with each
    candidate, the one of highest validation ROC AUC kept, stored in the
    model and said in the log (with a low-pass given, or --preprocessing
    given, the filters as given). --self_training: the validated model
    scores the uncleaned micrographs' picks and the refit learns from those
    it is sure of as well."""
    from unpicker.commands.train import build_parser

    assert build_parser().parse_args([]).preprocessing == "choose"
    names = write_demo(tmp_path, n_micrographs=5, n_cleaned=3, level="tiny", seed=5)
    assert train_in(tmp_path, "--train_output", "c.out", "--num_epochs", "4", "--preprocessing", "choose",
                    "--self_training", "--no_report") == 0
    log = capsys.readouterr().out
    aucs = {m.group(1): float(m.group(2)) for m in re.finditer(r"^  (.+): validation ROC AUC (\d\.\d{3})$", log, re.M)}
    assert list(aucs)[0] == "no low-pass" and len(aucs) == 3
    chosen = re.search(r"^Preprocessing chosen: (.+), the highest validation ROC AUC \((\d\.\d{3})\)$", log, re.M)
    assert chosen and aucs[chosen.group(1)] == float(chosen.group(2)) == max(aucs.values())
    info, _ = read_model_info(tmp_path / "c.out")
    choice = info.extra["training"]["preprocessing_choice"]
    assert choice["chosen"] == chosen.group(1) and list(choice["validation_auc"]) == list(aucs)
    expected = re.search(r"low-pass ([\d.]+) Å", chosen.group(1))
    assert info.preprocessing.lowpass_A == (float(expected.group(1)) if expected else 0.0)
    # self-training: every pick of the 2 uncleaned micrographs scored; those taken join the refit
    n_unlabelled = sum(len(read_star(tmp_path / f"{n}_autopick.star").blocks[0].rows) for n in names[3:])
    st = re.search(rf"^Self-training: the validated model scored {n_unlabelled} picks of 2 uncleaned micrographs "
                   r"\(--unlabelled _autopick.star\); the (\d+) it gives P >= 0.95 and the (\d+) it gives P <= 0.05", log, re.M)
    assert st, log
    n_pseudo = int(st.group(1)) + int(st.group(2))
    n_labelled = sum(len(read_training_file(tmp_path / f"{n}_autopick_train.star").xy) for n in names[:3])
    refit = re.search(r"^Refitting on all 3 training micrographs, the validation micrographs included(?:, and (\d+) "
                      r"pseudo-labelled picks)?: (\d+) boxes", log, re.M)
    assert int(refit.group(1) or 0) == n_pseudo and int(refit.group(2)) == n_labelled + n_pseudo <= 2 * n_labelled
    pseudo = info.extra["training"]["refit"]["pseudo_labels"]
    assert (pseudo is None) if n_pseudo == 0 else (pseudo["particles"] + pseudo["non_particles"] == n_pseudo
                                                   and set(pseudo["micrographs"]) <= set(names[3:]))
    assert train_in(tmp_path, "--train_output", "g.out", "--num_epochs", "1", "--preprocessing", "choose",
                    "--lowpass", "30", "--no_report", "--no_refit") == 0
    assert "Preprocessing as given: a --lowpass or --gaussian_sigma was given" in capsys.readouterr().out
    assert read_model_info(tmp_path / "g.out")[0].preprocessing.lowpass_A == 30
    assert train_in(tmp_path, "--train_output", "n.out", "--num_epochs", "1", "--preprocessing", "given",
                    "--no_report", "--no_refit") == 0
    assert "Choosing the preprocessing" not in capsys.readouterr().out
    info, _ = read_model_info(tmp_path / "n.out")
    assert info.preprocessing.lowpass_A == 0.0 and info.extra["training"]["preprocessing_choice"] is None
