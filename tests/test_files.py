"""Atomic outputs: whole files only, with the permissions of a new file."""
from __future__ import annotations

import os
import stat

import pytest

from unpicker.files import atomic_write_text


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX permissions")
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_write_gives_the_umask_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "out.star", "data_\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.star").stat().st_mode) == mode
    assert (tmp_path / "out.star").read_text() == "data_\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.star"]     # no temporary file left


def test_unwritable_outputs_are_one_named_error_and_leave_no_temporary_file(tmp_path, monkeypatch):
    import errno

    from unpicker.files import OutputError, atomic_output

    with pytest.raises(OutputError, match=r"nothere/out.star: cannot be written: No such file or directory"):
        atomic_write_text(tmp_path / "nothere" / "out.star", "x")
    (tmp_path / "a_folder").mkdir()
    with pytest.raises(OutputError, match=r"a_folder: cannot be written: it is a folder"):
        atomic_write_text(tmp_path / "a_folder", "x")

    def full(fd, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdopen", full)
    with pytest.raises(OutputError, match="out.star: cannot be written: No space left on device"):
        atomic_write_text(tmp_path / "out.star", "x")
    monkeypatch.undo()
    with pytest.raises(KeyboardInterrupt):             # interrupted while a writer writes
        with atomic_output(tmp_path / "plot.png") as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder"]


def test_temporary_files_of_a_killed_run_are_cleared(tmp_path):
    import subprocess
    import sys

    from unpicker.files import clear_stale_temporaries

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = [tmp_path / f".m.out-100.resnet.weights.h5.{dead}.tmp.weights.h5",
             tmp_path / f".mic_unpick.star.{dead}.k2j3h4.tmp"]
    alive = [tmp_path / f".mic_unpick.star.{os.getpid()}.abcdefgh.tmp", tmp_path / "mic.001.tmp.star",
             tmp_path / ".hidden.tmp"]
    for p in stale + alive:
        p.write_text("x")
    assert sorted(clear_stale_temporaries([tmp_path, tmp_path])) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in alive)
