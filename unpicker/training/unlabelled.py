"""The picks of the micrographs no one cleaned, which self-training learns
from (:mod:`.pseudo`): where they are, read as training picks without labels."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..files import find_by_suffix, split_suffix
from ..formats.picks import CoordinateOptions, read_coordinates
from ..formats.relion import coordinate_list_given
from ..formats.star import StarError
from ..labels import TrainingPicks


def find_unlabelled(source: str, image_dir: str, options: CoordinateOptions, cleaned: set[str], limit: int,
                    seed: int) -> tuple[list[tuple[str, Path, TrainingPicks]], list[str]]:
    """(micrograph name, MRC path, picks) of each micrograph ``source`` names
    that is not in ``cleaned`` and has picks and a micrograph file, sorted by
    name; at most ``limit``, chosen at random from ``seed`` (the same ones
    for the same seed; files are read in a random order until enough are found).

    ``source``: a file suffix in the current folder (``_autopick.star``;
    ``EMAN/.box`` names a folder), a RELION 4/5 list of coordinate files, or
    one file of every micrograph's picks (Topaz, cryoSPARC). Micrographs are
    ``image_dir/<name>.mrc``, or where a list names them when ``image_dir``
    is the current folder. The labels are all False (none). Also returns
    "file: why" for each file that could not be read, which is left out."""
    image_dir_path = Path(image_dir)
    try:
        listed = coordinate_list_given(source) if Path(source).is_file() else None
    except StarError:
        listed = None
    if listed is not None:
        mrcs = listed.micrograph_paths(None if image_dir == os.curdir else image_dir)
        files = [(m.stem, Path(c), m) for m, c in zip(mrcs, listed.coordinates)]
    elif Path(source).is_file():
        files = [(None, Path(source), None)]
    else:
        folder, suffix = split_suffix(source, Path("."))
        files = [(name, p, image_dir_path / f"{name}.mrc") for name, p in find_by_suffix(folder, suffix)]
    # the files in a random order, read until ``limit`` micrographs are found (not every file of a large set)
    rng = np.random.default_rng(seed)
    items, unreadable = [], []
    for k in rng.permutation(len(files)):
        name, path, mrc = files[k]
        if len(items) >= limit:
            break
        if name in cleaned:
            continue
        try:
            every = read_coordinates(path, options, name)
        except (StarError, OSError, ValueError) as e:
            unreadable.append(f"{path}: {e}")
            continue
        for picks in every:
            mrc_path = mrc or image_dir_path / f"{picks.micrograph}.mrc"
            if picks.micrograph in cleaned or not len(picks.xy) or not mrc_path.is_file():
                continue
            items.append((picks.micrograph, mrc_path,
                          TrainingPicks(picks.xy, np.zeros(len(picks.xy), bool), str(path), picks.row_lines)))
    if len(items) > limit:      # one file of every micrograph's picks
        keep = rng.choice(len(items), limit, replace=False)
        items = [items[i] for i in sorted(keep)]
    return sorted(items, key=lambda item: item[0]), unreadable
