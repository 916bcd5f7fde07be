"""Which micrographs the unpicking report draws, and from what (unpicker/report/unpicking.py)."""
from __future__ import annotations

import mrcfile
import numpy as np

from unpicker.formats.picks import MicrographPicks
from unpicker.report.unpicking import draw_overlays
from unpicker.unpicking import UnpickJob


def _job(folder, name, xy):
    picks = MicrographPicks(name, np.asarray(xy, float), "test", "relion")
    return UnpickJob(name, folder / f"{name}.star", folder / f"{name}.mrc", folder / f"{name}_out.star",
                     load=lambda: picks)


def test_overlays_drawn_during_the_run_are_reused_and_the_rest_drawn_now(tmp_path):
    with mrcfile.new(tmp_path / "b.mrc") as mrc:
        mrc.set_data(np.random.default_rng(0).normal(size=(64, 96)).astype(np.float32))
    jobs = {"a": _job(tmp_path, "a", [[1, 2]]), "b": _job(tmp_path, "b", [[3, 4], [5, 6]]),
            "c": _job(tmp_path, "c", [[7, 8]])}
    # a: drawn during the run (its micrograph is not read again: there is none); c: unreadable, left out
    drawn = {"a": ({"view": "a.jpg", "factor": 1}, np.array([[1.0, 2.0]]))}
    views, xy = draw_overlays(tmp_path, ["a", "b", "c"], jobs, 32, drawn=drawn)
    assert sorted(views) == sorted(xy) == ["a", "b"]
    assert views["a"] is drawn["a"][0]
    np.testing.assert_array_equal(xy["b"], [[3, 4], [5, 6]])
    assert (tmp_path / "images" / views["b"]["view"]).is_file() and (views["b"]["width"], views["b"]["height"]) == (96, 64)
