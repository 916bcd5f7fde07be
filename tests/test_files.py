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
