"""The model file: what a trained model needs besides its weights.

``--train_output unpickModel.out --network resnet`` (one network) writes two
files: ``unpickModel.out``, a small JSON document (network, preprocessing,
augmentation, threshold, training figures, versions), and
``unpickModel.out.weights.h5``, the Keras weights. Checkpoints are
``unpickModel.out-100`` (+ their weights), as the original named them, and
are accepted by evaluation exactly as typed (with or without the weights
file's ending). No TensorFlow is imported here, so the settings can be
checked before the network is loaded.

An ensemble (``--network resnet+seed``, the default) stores each network's
weights beside the model file (``unpickModel.out.resnet.weights.h5``,
``unpickModel.out.seed.weights.h5``; checkpoints likewise) and lists them
under ``members`` with the network and its logit shift; ``"views": "shared"`` says that its
networks split the test-time views between them (``boxes.member_views``).
Files written before then name whole model files as members
(``unpickModel.out.resnet``), each of which classified every view; they
still load.
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
    # an ensemble's networks: {"network", "weights", "logit_shift"} each, or
    # (older files) the names of model files beside this one
    members: list[dict | str] = field(default_factory=list)

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


def shares_views(info: ModelInfo) -> bool:
    """Whether an ensemble's networks split the test-time views between them."""
    return info.extra.get("views") == "shared"


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
        if isinstance(member, dict):
            networks.append(_inline_member(base, info, member))
            continue
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


def _inline_member(base: Path, info: ModelInfo, member: dict) -> tuple[ModelInfo, Path]:
    """One network of an ensemble that lists its weights."""
    try:
        m_info = ModelInfo(str(member["network"]), info.preprocessing, info.augmentation, info.threshold,
                           info.step, None, float(member.get("logit_shift", 0.0)), info.extra)
        weights = base.parent / str(member["weights"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{base}: an ensemble member is not readable ({e!r}: {member!r})") from None
    if not weights.exists():
        raise ModelFileError(f"{base}: its {m_info.network} weights file {weights} is missing")
    return m_info, weights


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
                         [m if isinstance(m, dict) else str(m) for m in doc.get("members", [])])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{base}: not an emUnpicker model file ({e})") from None
    if info.members:
        return info, None
    weights = base.parent / doc.get("weights", weights_path(base).name)
    if not weights.exists():
        raise ModelFileError(f"{base}: its weights file {weights} is missing")
    return info, weights
