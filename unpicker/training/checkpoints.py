"""Saving trained networks as a model file (see :mod:`unpicker.networks.model_file`):
each network's weights, then the JSON document that lists them, each file
written whole or not at all."""
from __future__ import annotations

from pathlib import Path

from ..files import atomic_output
from ..networks.model_file import ModelInfo, weights_path, write_model_info


def save_model(path: str | Path, networks: list[tuple[str, object]], info: ModelInfo) -> None:
    """Write ``networks`` ((name, Keras model) pairs: one network, or an
    ensemble's members in order) and ``info`` as the model file ``path``.
    An ensemble's members are listed in ``info.members`` with ``info``'s
    logit shift; the weights are written first, so a model file that can be
    read is complete."""
    ensemble = len(networks) > 1
    members = []
    for name, model in networks:
        weights = weights_path(path, name if ensemble else None)
        with atomic_output(weights) as tmp:
            model.save_weights(tmp)
        members.append({"network": name, "weights": weights.name, "logit_shift": info.logit_shift})
    info.members = members if ensemble else []
    write_model_info(path, info)
