"""How long training runs and in what batches (pure Python, no Keras).

An epoch is, as in the original, one pass over the training boxes under each
of the four 90° rotation slots (4 x boxes samples). An ensemble's networks
(``resnet+seed``) learn from the same batches, side by side: a *step* draws
one batch, which every network learns from with its own optimiser in chunks
of its own batch size (*updates*).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..networks import DEFAULT_NETWORK, network_names

ROTATIONS_PER_EPOCH = 4
LOG_EVERY = 100
DEFAULT_BATCH = {"seed": 64, "resnet": 128}
DEFAULT_LEARNING_RATE = {"seed": 0.01, "resnet": 2e-3}
# The most steps an ensemble trains for unless --max_steps says otherwise.
# Every benchmark set trains for fewer; at the original example's size (25
# epochs, 5,299 steps of 128) the cap keeps both networks within 10 minutes
# on 2 CPU cores (BENCHMARKS.md).
ENSEMBLE_MAX_STEPS = 2500
# Steps of each short training that compares preprocessings (--preprocessing
# choose), or the training's own steps where it has fewer.
PREPROCESSING_TRIAL_STEPS = 300
# Epochs unless --num_epochs says otherwise: the original's 15 for one
# network; 25 for an ensemble, which with shifted boxes ranked every
# benchmark run's picks better than 15 did (BENCHMARKS.md).
ORIGINAL_EPOCHS = 15
ENSEMBLE_EPOCHS = 25


@dataclass
class TrainConfig:
    """The training settings, as ``unpicker_train.py`` sets them.

    ``None`` means the default for the network: see :func:`plan_training`.
    ``shift_px`` is in pixels of the resized box; ``tta`` is the number of
    test-time views averaged at validation and (by default) at unpicking;
    ``precision`` is ``float32`` or ``bfloat16`` (resolved, not ``auto``).
    """

    network: str = DEFAULT_NETWORK
    num_epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    max_steps: int | None = None          # 0: no cap
    augmentation: str = "d8"              # "d8", "rot4" or "none" (see images.augment)
    shift_px: int | None = None           # None: images.augment.default_shift_px
    seed: int = 66478
    num_cores: int = 4
    log_every: int = LOG_EVERY
    tta: int = 4
    precision: str = "float32"


@dataclass(frozen=True)
class TrainingPlan:
    """The numbers a training runs by, for a given number of training boxes.

    Attributes:
        names: the networks trained.
        batch: boxes per step.
        network_batches: each network's boxes per update (at most ``batch``).
        samples_per_epoch: 4 x the training boxes.
        steps_per_epoch: ``samples_per_epoch // batch`` (at least 1).
        epochs: the epochs asked for.
        epoch_steps: the steps those epochs take.
        steps: the steps trained: ``epoch_steps``, cut to the step cap.
    """

    names: tuple[str, ...]
    batch: int
    network_batches: tuple[int, ...]
    samples_per_epoch: int
    steps_per_epoch: int
    epochs: int
    epoch_steps: int
    steps: int

    @property
    def capped(self) -> bool:
        """Whether the step cap stops training before its epochs are done."""
        return self.steps < self.epoch_steps

    def updates_per_step(self, i: int) -> int:
        """Optimiser updates network ``i`` makes per step."""
        return -(-self.batch // self.network_batches[i])


def train_epochs(config: TrainConfig) -> int:
    """The epochs training asks for (before the step cap)."""
    if config.num_epochs is not None:
        return config.num_epochs
    return ENSEMBLE_EPOCHS if "+" in config.network else ORIGINAL_EPOCHS


def step_cap(config: TrainConfig) -> int | None:
    """The most steps training runs for (None: as many as the epochs need)."""
    if config.max_steps is not None:
        return config.max_steps or None
    return ENSEMBLE_MAX_STEPS if "+" in config.network else None


def plan_training(n_train: int, config: TrainConfig) -> TrainingPlan:
    """The plan for ``n_train`` training boxes (at least 2)."""
    if n_train < 2:
        raise ValueError("need at least two training boxes")
    names = tuple(network_names(config.network))
    batch = min(config.batch_size or max(DEFAULT_BATCH[n] for n in names), n_train)
    samples = ROTATIONS_PER_EPOCH * n_train
    epochs = train_epochs(config)
    epoch_steps = max(epochs * samples // batch, 1)
    cap = step_cap(config)
    return TrainingPlan(names, batch, tuple(min(config.batch_size or DEFAULT_BATCH[n], batch) for n in names),
                        samples, max(samples // batch, 1), epochs, epoch_steps,
                        min(epoch_steps, cap) if cap else epoch_steps)


def trial_steps(n_train: int, config: TrainConfig) -> int:
    """Steps of each short training that compares preprocessings for
    ``n_train`` training boxes: :data:`PREPROCESSING_TRIAL_STEPS`, or the
    training's own where it has fewer."""
    return min(PREPROCESSING_TRIAL_STEPS, plan_training(n_train, config).steps)
