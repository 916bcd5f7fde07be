"""The Keras back-end: quiet import, arithmetic, dtype policy (unpicker/networks/backend.py)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT
from unpicker.networks.backend import NOTICES, filtered_stderr


def test_filtered_stderr_drops_the_notices_and_keeps_everything_else(capfd):
    with filtered_stderr(("chatter",)):
        os.write(2, b"some chatter from C++\nW a real warning\n")
        print("from Python", file=sys.stderr)
    err = capfd.readouterr().err
    assert "W a real warning" in err and "from Python" in err
    assert "chatter" not in err


def test_importing_keras_prints_none_of_the_notices():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = subprocess.run([sys.executable, "-c", "from unpicker.networks.backend import import_keras; import_keras()"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert not any(n in r.stderr for n in NOTICES), r.stderr


def test_auto_precision_uses_bfloat16_only_where_the_cpu_has_it(monkeypatch):
    import keras

    from unpicker.networks import backend as m

    assert m.cpu_has_bfloat16("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n")
    assert m.cpu_has_bfloat16("flags\t: fpu sse2 amx_bf16 amx_tile\n")
    assert not m.cpu_has_bfloat16("flags\t: fpu sse2 avx2 avx512f avx512bw\n")
    assert not m.cpu_has_bfloat16("model name\t: something without a flags line\n")
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    monkeypatch.setattr(m, "gpu_present", lambda: False)
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
    monkeypatch.setattr(m, "gpu_present", lambda: True)
    assert m.resolve_precision("auto") == "float32"
    monkeypatch.setattr(m, "gpu_present", lambda: False)
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert m.resolve_precision("auto") == "float32"
    with pytest.raises(ValueError, match="precision must be one of"):
        m.resolve_precision("half")


def test_precision_setting_sets_the_keras_policy():
    import keras

    from unpicker.networks.backend import configure

    try:
        configure(1, None, "bfloat16")
        assert keras.mixed_precision.dtype_policy().name == "mixed_bfloat16"
    finally:
        configure(1, None, "float32")
    assert keras.mixed_precision.dtype_policy().name == "float32"
    for other in ("half", "auto", "mixed"):    # configure takes a resolved precision
        with pytest.raises(ValueError, match="precision"):
            configure(1, None, other)
