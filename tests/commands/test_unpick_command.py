"""unpicker_eval.py: outputs, thresholds, checkpoints, errors and RELION 4/5 lists."""
from __future__ import annotations

import shutil

import numpy as np

from conftest import copy_model, run_eval
from unpicker.formats.star import read_star
from unpicker.networks.model_file import read_model_info


def test_outputs_keep_header_columns_and_row_text_with_scores(trained):
    """Kept rows keep their text; the probability goes in _rlnAutopickFigureOfMerit
    (what RELION's Extract and ManualPick read) and _unpickerScore, the
    picker's own figure of merit in _unpickerPickerFigureOfMerit."""
    folder, names, _ = trained
    assert run_eval(folder, "--train_output", "unpickModel.out", "--overwrite", "--write_rejected", "_rejected.star") == 0
    src = (folder / f"{names[4]}_autopick.star").read_text().splitlines()
    out = (folder / f"{names[4]}_autopick_unpick.star").read_text().splitlines()
    rej = (folder / f"{names[4]}_rejected.star").read_text().splitlines()
    header_end = src.index("_rlnAnglePsi #5")
    assert out[:header_end + 1] == src[:header_end + 1]
    assert out[header_end + 1:header_end + 3] == ["_unpickerPickerFigureOfMerit #6", "_unpickerScore #7"]
    src_rows = {line.split()[0] + " " + line.split()[1]: line.split() for line in src[header_end + 1:] if line}
    # each output ends with emUnpicker's marker, outside the table (after a blank line)
    for lines, role in ((out, "unpicked picks"), (rej, "removed picks")):
        assert lines[-2] == "" and lines[-1].startswith(f"# written by emUnpicker 0.1.0 as {role}; model unpickModel.out")
    kept = [line.split() for line in out[header_end + 3:-1] if line]
    rejected = [line.split() for line in rej[header_end + 3:-1] if line]
    assert len(kept) + len(rejected) == len(src_rows)
    for row in kept + rejected:
        original = src_rows[row[0] + " " + row[1]]
        assert row[:2] == original[:2] and row[3:5] == original[3:5]      # the other values' text as it was
        assert row[5] == original[2] and row[2] == row[6]                # picker's FOM moved; ours in both columns
    threshold = read_model_info(folder / "unpickModel.out")[0].threshold
    assert all(float(row[6]) >= threshold - 1e-4 for row in kept)
    assert all(float(row[6]) < threshold + 1e-4 for row in rejected)


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
    copy_model(folder, work)
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
    copy_model(folder, work)
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
    copy_model(folder, tmp_path)
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


def test_suggest_lists_untrained_micrographs_with_their_picks(trained, tmp_path, capsys):
    folder, names, _ = trained
    work = tmp_path / "suggest"
    shutil.copytree(folder, work, ignore=shutil.ignore_patterns("*_report", "*_unpick.star", "*.png"))
    assert run_eval(work, "--train_output", "unpickModel.out", "--suggest", "2", "--histogram", "") == 0
    out = capsys.readouterr().out
    lines = out[out.index("Micrographs to clean next (--suggest 2)"):].splitlines()[1:3]
    trained_on = read_model_info(work / "unpickModel.out")[0].extra["training"]["micrographs"]
    suggested = [line.split(".", 1)[1].split(":")[0].strip() for line in lines]
    assert set(trained_on) <= set(names) and len(set(suggested)) == 2 and not set(suggested) & set(trained_on)
    for name, line in zip(suggested, lines):
        n_picks = len(read_star(work / f"{name}_autopick.star").blocks[0].rows)
        assert f"{name}: {n_picks} picks" in line
    page = (work / "unpick_report" / "index.html").read_text()
    assert "Clean next (--suggest)" in page and suggested[0] in page
