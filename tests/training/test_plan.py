"""How long training runs and in what batches (unpicker/training/plan.py)."""
from __future__ import annotations

import pytest

from unpicker.networks import network_names
from unpicker.training.plan import ENSEMBLE_MAX_STEPS, TrainConfig, plan_training, step_cap, train_epochs


def test_the_step_cap_binds_the_ensemble_only_unless_asked():
    assert step_cap(TrainConfig()) == ENSEMBLE_MAX_STEPS
    assert step_cap(TrainConfig(network="resnet")) is None and step_cap(TrainConfig(network="seed")) is None
    assert step_cap(TrainConfig(max_steps=0)) is None and step_cap(TrainConfig(network="seed", max_steps=7)) == 7


def test_default_epochs_are_25_for_the_ensemble_and_the_originals_15_for_one_network():
    assert train_epochs(TrainConfig()) == 25
    assert train_epochs(TrainConfig(num_epochs=3)) == 3 and train_epochs(TrainConfig(network="resnet")) == 15


def test_network_names():
    assert network_names("resnet+seed") == ["resnet", "seed"] and network_names("seed") == ["seed"]
    for bad in ("resnet+resnet", "resnet+vgg", ""):
        with pytest.raises(ValueError, match="unknown network"):
            network_names(bad)


def test_plan_counts_steps_epochs_and_each_networks_updates():
    # the original example's size: 8,478 boxes less 20% validation, 25 epochs of 4 rotations in batches of 128
    plan = plan_training(6782, TrainConfig())
    assert plan.names == ("resnet", "seed") and plan.batch == 128 and plan.network_batches == (128, 64)
    assert plan.samples_per_epoch == 4 * 6782 and plan.steps_per_epoch == 4 * 6782 // 128
    assert plan.epoch_steps == 25 * 4 * 6782 // 128 and plan.steps == ENSEMBLE_MAX_STEPS and plan.capped
    assert [plan.updates_per_step(i) for i in (0, 1)] == [1, 2]     # seed learns in two halves of the step
    small = plan_training(100, TrainConfig(network="seed", num_epochs=2))
    assert small.batch == 64 and small.steps == small.epoch_steps == 2 * 400 // 64 and not small.capped
    assert plan_training(10, TrainConfig()).batch == 10             # a batch is never larger than the set
    with pytest.raises(ValueError, match="two training boxes"):
        plan_training(1, TrainConfig())
