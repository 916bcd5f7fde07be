"""Property-based: mutated STAR files and coordinate rows, fed to every
reader and to the training-set builder, give only the project's named
errors (StarError, with file and line), never another exception."""
from __future__ import annotations

import contextlib
import io
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unpicker.commands import training_set
from unpicker.formats.picks import read_coordinates
from unpicker.formats.relion import read_coordinate_list, read_ctf_star, read_picks
from unpicker.formats.star import StarError, parse_star
from unpicker.labels import label_micrograph, read_training_file

AUTOPICK = """
# version 30001

data_optics

loop_
_rlnOpticsGroupName #1
_rlnOpticsGroup #2
_rlnMicrographPixelSize #3
opticsGroup1 1 1.770000

# version 30001

data_coordinates

loop_
_rlnCoordinateX #1
_rlnCoordinateY #2
_rlnAutopickFigureOfMerit #3
_rlnClassNumber #4
_rlnAnglePsi #5
  120.5   340.25  0.5   0  -999.0
  900.0   10.0    0.25  0  -999.0
  33.0    44.0    0.125 0  -999.0
"""
TRAINING = AUTOPICK.replace("_rlnAnglePsi #5\n", "_rlnAnglePsi #5\n_unpickerLabel #6\n").replace(
    "-999.0\n  900", "-999.0 P\n  900").replace("-999.0\n  33", "-999.0 N\n  33").rstrip() + " P\n"
LIST = ("data_coordinate_files\nloop_\n_rlnMicrographName #1\n_rlnMicrographCoordinates #2\n"
        "Movies/a.mrc AutoPick/a_autopick.star\n")
CTF = ("data_optics\nloop_\n_rlnOpticsGroup #1\n_rlnVoltage #2\n_rlnSphericalAberration #3\n"
       "_rlnAmplitudeContrast #4\n_rlnMicrographPixelSize #5\n1 300 2.7 0.1 1.06\n\n"
       "data_micrographs\nloop_\n_rlnMicrographName #1\n_rlnOpticsGroup #2\n_rlnDefocusU #3\n_rlnDefocusV #4\n"
       "m.mrc 1 15000 14000\n")

# pieces that matter to a STAR parser: quotes, comments, keywords, odd numbers
PIECES = ["'", '"', "#", " ", "\n", "\t", "\r\n", "loop_", "data_", "data_coordinates", "_rlnCoordinateX",
          "_rlnCoordinateY #2", "_unpickerLabel", "nan", "inf", "-inf", "1e400", "-0", "P", "N", "x", "\ufeff",
          "\x00", ";", "_", "1.5", "999999999999999999999"]


@st.composite
def mutated(draw, text: str) -> str:
    """``text`` after a few random edits: pieces inserted, spans deleted or
    duplicated, lines swapped, the end cut off."""
    rnd = draw(st.randoms(use_true_random=False))     # positions spread evenly over the text
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "duplicate", "swap", "truncate", "replace", "replace"]))
        n = len(text)
        i = rnd.randint(0, n)
        if op == "replace":      # one whitespace-separated word becomes another piece
            words = re.split(r"(\s+)", text)
            k = rnd.randrange(0, len(words), 2)
            words[k] = draw(st.sampled_from(PIECES))
            text = "".join(words)
        elif op == "insert":
            text = text[:i] + draw(st.sampled_from(PIECES) | st.text(max_size=4)) + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 12)):]
        elif op == "duplicate":
            text = text[:i] + text[i:i + draw(st.integers(1, 40))] + text[i:]
        elif op == "swap":
            lines = text.split("\n")
            a, b = rnd.randrange(len(lines)), rnd.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
        else:
            text = text[:i]
    return text


def _write(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    return p


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(auto=mutated(AUTOPICK), train=mutated(TRAINING), listed=mutated(LIST), ctf=mutated(CTF))
def test_readers_raise_only_named_errors(auto, train, listed, ctf):
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        for name, text, reader in (("a.star", auto, read_picks), ("t.star", train, read_training_file),
                                   ("l.star", listed, read_coordinate_list), ("c.star", ctf, read_ctf_star),
                                   ("p.star", auto, lambda p: parse_star(p.read_text(errors="replace")))):
            try:
                path = _write(folder, name, text)
            except UnicodeEncodeError:
                continue
            try:
                reader(path)
            except StarError as e:
                assert str(e).startswith(str(path)) or str(e).startswith("<string>"), str(e)


@SETTINGS
@given(cleaned=mutated(AUTOPICK), rows=st.lists(st.lists(st.sampled_from(
    ["1", "-5", "0.5", "nan", "inf", "1e309", "abc", "'a b'", "#", "-999", "4096.5"]), min_size=0, max_size=7),
    max_size=6))
def test_the_training_set_builder_never_fails_with_a_traceback(cleaned, rows):
    auto = AUTOPICK.rstrip() + "\n" + "".join(" ".join(r) + "\n" for r in rows)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        try:
            _write(folder, "m_autopick.star", auto)
            _write(folder, "m_autopick_correct.star", cleaned)
        except UnicodeEncodeError:
            return
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = training_set.main(["_autopick.star", "_autopick_correct.star", "_autopick_train.star",
                                    "--dir", d, "--keep_unreviewed"])
        assert rc in (0, 1, 2), err.getvalue()
        if rc == 0:        # what was written is a training file the trainer reads
            read_training_file(folder / "m_autopick_train.star")
        else:
            assert err.getvalue().startswith(("Skipped m:", "Error:")), err.getvalue()
        try:
            (auto,), (correct,) = (read_coordinates(folder / f) for f in ("m_autopick.star", "m_autopick_correct.star"))
            label_micrograph(auto, correct)
        except StarError:
            pass
