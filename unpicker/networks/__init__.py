"""The networks and everything about running them: the Keras back-end
(:mod:`.backend`: device, arithmetic, threads), the architectures
(:mod:`.architectures`), scoring boxes with a network or an ensemble
(:mod:`.scoring`) and the model file (:mod:`.model_file`, no TensorFlow).

Importing this package imports no Keras; the names below are plain data.
"""
from __future__ import annotations

# The built-in networks (see :mod:`.architectures`).
NETWORKS = ("resnet", "seed")
# What ``--network`` trains by default: both, side by side, their logits averaged.
DEFAULT_NETWORK = "resnet+seed"


def network_names(network: str) -> list[str]:
    """The networks of ``--network``: ``"resnet+seed"`` gives both."""
    names = network.split("+")
    unknown = [n for n in names if n not in NETWORKS]
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"unknown network {network!r} (choose from {', '.join(NETWORKS)}, "
                         "or several of them joined by +)")
    return names
