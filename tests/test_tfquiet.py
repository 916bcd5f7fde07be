"""TensorFlow's start-up notices are filtered from stderr; other lines are kept."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT
from unpicker.tfquiet import NOTICES, filtered_stderr


def test_filtered_stderr_drops_the_notices_and_keeps_everything_else(capfd):
    with filtered_stderr(("chatter",)):
        os.write(2, b"some chatter from C++\nW a real warning\n")
        print("from Python", file=sys.stderr)
    err = capfd.readouterr().err
    assert "W a real warning" in err and "from Python" in err
    assert "chatter" not in err


def test_importing_keras_prints_none_of_the_notices():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = subprocess.run([sys.executable, "-c", "from unpicker.tfquiet import import_keras; import_keras()"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert not any(n in r.stderr for n in NOTICES), r.stderr
