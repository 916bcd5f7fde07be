"""The model file: what a trained model needs besides its weights (no Keras here).

``--train_output unpickModel.out`` writes ``unpickModel.out``, a small JSON
document (network, preprocessing, augmentation, threshold, training figures,
versions), and each network's Keras weights beside it:
``unpickModel.out.resnet.weights.h5`` and ``unpickModel.out.seed.weights.h5``
for the default ensemble ``resnet+seed``, listed under ``members`` with
their logit shifts; ``unpickModel.out.weights.h5`` for one network alone.
Checkpoints are ``unpickModel.out-100`` (+ their weights), as the original
named them, and are accepted by unpicking exactly as typed, with or without
a weights file's ending. The settings can so be checked before the networks
are loaded.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..files import atomic_write_text
from ..images.preprocess import Preprocessing
from . import network_names

FORMAT = "emUnpicker model 1"
WEIGHTS_SUFFIX = ".weights.h5"
# the fields every model file has; the rest of its document is kept in ``extra``
_FIELDS = ("format", "weights", "network", "preprocessing", "augmentation", "threshold", "step",
           "validation_error", "logit_shift", "members")


class ModelFileError(ValueError):
    """A model file that cannot be used; the message names the file."""


@dataclass
class ModelInfo:
    """What a model file says (see the module docstring).

    Attributes:
        network: ``resnet``, ``seed`` or an ensemble such as ``resnet+seed``.
        preprocessing: how its boxes were prepared; unpicking must match it.
        threshold: the default probability threshold for unpicking.
        step: the training step it was saved at.
        validation_error: the error (%) on the validation boxes, if any.
        logit_shift: added to the network's logit to undo the class
            weighting of training (see :func:`.scoring.particle_margin`).
        extra: everything else the document holds (training figures, versions).
        members: an ensemble's networks, ``{"network", "weights",
            "logit_shift"}`` each.
    """

    network: str
    preprocessing: Preprocessing
    augmentation: str = "d8"
    threshold: float = 0.5
    step: int = 0
    validation_error: float | None = None
    logit_shift: float = 0.0
    extra: dict = field(default_factory=dict)
    members: list[dict] = field(default_factory=list)

    def to_json(self, weights_name: str | None) -> str:
        doc = {"format": FORMAT, "network": self.network,
               "preprocessing": self.preprocessing.to_dict(), "augmentation": self.augmentation,
               "threshold": self.threshold, "step": self.step, "validation_error": self.validation_error,
               "logit_shift": self.logit_shift, **self.extra}
        doc.update({"members": self.members} if self.members else {"weights": weights_name})
        return json.dumps(doc, indent=2) + "\n"


def weights_path(model_path: str | Path, network: str | None = None) -> Path:
    """The weights beside a model file; an ensemble's ``network`` as
    ``unpickModel.out.resnet.weights.h5``."""
    return Path(str(model_path) + (f".{network}" if network else "") + WEIGHTS_SUFFIX)


def model_base(name: str | Path) -> Path:
    """The model's base name as the user may type it: ``unpickModel.out-200``,
    ``unpickModel.out-200.weights.h5`` and an ensemble network's
    ``unpickModel.out-200.seed.weights.h5`` all give ``unpickModel.out-200``."""
    s = str(name)
    if not s.endswith(WEIGHTS_SUFFIX):
        return Path(s)
    base = Path(s[: -len(WEIGHTS_SUFFIX)])
    if not base.exists() and base.suffix and base.with_suffix("").exists():
        return base.with_suffix("")
    return base


def write_model_info(model_path: str | Path, info: ModelInfo) -> None:
    """Write the JSON part (after the weights, so a readable file means complete)."""
    atomic_write_text(model_path, info.to_json(None if info.members else weights_path(model_path).name))


def read_model_info(name: str | Path) -> tuple[ModelInfo, list[tuple[ModelInfo, Path]]]:
    """Read a model file. Returns its info and the networks to run, each as
    (info, weights path): the model itself, or an ensemble's members. Raises
    :class:`ModelFileError` naming the file for anything that is not a
    complete model this version can run."""
    base = model_base(name)
    if base.is_dir():
        raise ModelFileError(f"{base}: is a folder, not a model file")
    if not base.exists():
        hint = " (is training finished, or did you mean a checkpoint such as NAME-100?)"
        raise ModelFileError(f"{base}: model file not found{hint}")
    try:
        doc = json.loads(base.read_text())
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT!r} file")
        if "preprocessing" not in doc or "boxsize_px" not in doc["preprocessing"]:
            raise ValueError("it has no preprocessing.boxsize_px")
        names = network_names(str(doc["network"]))
        info = ModelInfo(doc["network"], Preprocessing.from_dict(doc["preprocessing"]),
                         doc.get("augmentation", "d8"), float(doc.get("threshold", 0.5)),
                         int(doc.get("step", 0)), doc.get("validation_error"),
                         float(doc.get("logit_shift", 0.0)),
                         {k: v for k, v in doc.items() if k not in _FIELDS},
                         list(doc.get("members", [])))
        if not 0.0 <= info.threshold <= 1.0 or not math.isfinite(info.logit_shift):
            raise ValueError(f"threshold {info.threshold} or logit shift {info.logit_shift} out of range")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, OSError) as e:
        raise ModelFileError(f"{base}: not a usable emUnpicker model file ({e})") from None
    if len(names) == 1:
        if info.members:
            raise ModelFileError(f"{base}: one network ({info.network}) but an ensemble's members")
        weights = base.parent / str(doc.get("weights") or weights_path(base).name)
        _check_weights(base, info.network, weights)
        return info, [(info, weights)]
    if [m.get("network") if isinstance(m, dict) else None for m in info.members] != names:
        raise ModelFileError(f"{base}: network {info.network}, but its members are "
                             f"{[m.get('network') if isinstance(m, dict) else m for m in info.members]}")
    networks = []
    for member in info.members:
        try:
            m_info = ModelInfo(str(member["network"]), info.preprocessing, info.augmentation, info.threshold,
                               info.step, None, float(member.get("logit_shift", 0.0)), info.extra)
            weights = base.parent / str(member["weights"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{base}: an ensemble member is not readable ({e!r}: {member!r})") from None
        _check_weights(base, m_info.network, weights)
        networks.append((m_info, weights))
    return info, networks


def _check_weights(base: Path, network: str, weights: Path) -> None:
    if not weights.is_file():
        raise ModelFileError(f"{base}: its {network} weights file {weights} is missing")
