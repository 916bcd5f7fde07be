"""The model file: what a trained model needs besides its weights.

``--train_output unpickModel.out`` writes two files: ``unpickModel.out``, a
small JSON document (network, preprocessing, augmentation, threshold,
training figures, versions), and ``unpickModel.out.weights.h5``, the Keras
weights. Checkpoints are ``unpickModel.out-100`` (+ ``.weights.h5``), as the
original named them, and are accepted by evaluation exactly as typed (with or
without the ``.weights.h5`` ending). No TensorFlow is imported here, so the
settings can be checked before the network is loaded.

An ensemble (``--network resnet+seed``) is a model file without weights that
names its members, ordinary model files beside it (``unpickModel.out.resnet``,
``unpickModel.out.seed``), trained on the same boxes with the same
preprocessing; its threshold is chosen on the members' averaged logits.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .files import atomic_write_text
from .preprocess import Preprocessing

FORMAT = "emUnpicker model 1"
WEIGHTS_SUFFIX = ".weights.h5"


class ModelFileError(ValueError):
    """A model file that cannot be used; the message names the file."""


@dataclass
class ModelInfo:
    network: str
    preprocessing: Preprocessing
    augmentation: str = "d8"
    threshold: float = 0.5
    step: int = 0
    validation_error: float | None = None
    logit_shift: float = 0.0   # see model.particle_margin
    extra: dict = field(default_factory=dict)
    members: list[str] = field(default_factory=list)   # an ensemble's model files, beside this one

    def to_json(self, weights_name: str | None) -> str:
        doc = {"format": FORMAT, "network": self.network,
               "preprocessing": self.preprocessing.to_dict(), "augmentation": self.augmentation,
               "threshold": self.threshold, "step": self.step, "validation_error": self.validation_error,
               "logit_shift": self.logit_shift, **self.extra}
        doc.update({"members": self.members} if self.members else {"weights": weights_name})
        return json.dumps(doc, indent=2) + "\n"


def weights_path(model_path: str | Path) -> Path:
    return Path(str(model_path) + WEIGHTS_SUFFIX)


def model_base(name: str | Path) -> Path:
    """The model's base name as the user may type it: ``unpickModel.out-200``
    or ``unpickModel.out-200.weights.h5`` both give ``unpickModel.out-200``."""
    s = str(name)
    return Path(s[: -len(WEIGHTS_SUFFIX)] if s.endswith(WEIGHTS_SUFFIX) else s)


def write_model_info(model_path: str | Path, info: ModelInfo) -> None:
    """Write the JSON part (after the weights, or an ensemble's members, so a
    readable file means complete)."""
    atomic_write_text(model_path, info.to_json(None if info.members else weights_path(model_path).name))


def read_model_info(name: str | Path) -> tuple[ModelInfo, list[tuple[ModelInfo, Path]]]:
    """Read a model file. Returns its info and the networks to run, each as
    (info, weights path): the model itself, or an ensemble's members (each
    checked to exist and to share the ensemble's preprocessing)."""
    info, weights = _read_one(name)
    if not info.members:
        return info, [(info, weights)]
    base = model_base(name)
    networks = []
    for member in info.members:
        path = base.parent / member
        try:
            m_info, m_weights = _read_one(path)
        except ModelFileError as e:
            raise ModelFileError(f"{base}: ensemble member {member}: {e}") from None
        if m_info.members or m_info.preprocessing != info.preprocessing:
            raise ModelFileError(f"{base}: ensemble member {path} is not a single network trained with the "
                                 "ensemble's preprocessing")
        networks.append((m_info, m_weights))
    return info, networks


def _read_one(name: str | Path) -> tuple[ModelInfo, Path | None]:
    """One model file's info and weights path (None for an ensemble)."""
    base = model_base(name)
    if not base.exists():
        hint = " (is training finished, or did you mean a checkpoint such as NAME-100?)"
        raise ModelFileError(f"{base}: model file not found{hint}")
    try:
        doc = json.loads(base.read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT!r} file")
        info = ModelInfo(doc["network"], Preprocessing.from_dict(doc["preprocessing"]),
                         doc.get("augmentation", "d8"), float(doc.get("threshold", 0.5)),
                         int(doc.get("step", 0)), doc.get("validation_error"),
                         float(doc.get("logit_shift", 0.0)),
                         {k: v for k, v in doc.items() if k not in {
                             "format", "weights", "network", "preprocessing", "augmentation",
                             "threshold", "step", "validation_error", "logit_shift", "members"}},
                         [str(m) for m in doc.get("members", [])])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{base}: not an emUnpicker model file ({e})") from None
    if info.members:
        return info, None
    weights = base.parent / doc.get("weights", weights_path(base).name)
    if not weights.exists():
        raise ModelFileError(f"{base}: its weights file {weights} is missing")
    return info, weights
