"""The default threshold stored in a model file (unpicker/training/threshold.py)."""
from __future__ import annotations

import numpy as np
import pytest

from unpicker.training.threshold import (
    MIN_F1_GAIN, best_f1, best_f1_threshold, default_threshold, default_threshold_rule, roc_auc, threshold_line,
)


def choose_threshold(prob, labels):
    """The default threshold of validation boxes from held-out micrographs."""
    return default_threshold(prob, labels, held_out_micrographs=True)


def test_threshold_choice_maximises_f1_and_needs_enough_validation():
    prob = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1])
    labels = np.array([1, 1, 1, 0, 1, 0, 0, 0], bool)
    t = best_f1_threshold(prob, labels)
    assert 0.3 < t < 0.6          # keeps the first five (F1 0.889), drops the rest
    assert choose_threshold(prob, labels) == 0.5   # too few validation boxes: the plain default
    rng = np.random.default_rng(0)
    prob = rng.random(400) ** 0.7              # calibrated: a particle with its probability
    labels = rng.random(400) < prob
    f1 = lambda th: 2 * (labels & (prob >= th)).sum() / ((prob >= th).sum() + labels.sum())
    best = max(f1(x) for x in np.unique(prob))
    assert f1(best_f1_threshold(prob, labels)) == pytest.approx(best)
    assert best_f1(prob, labels) == pytest.approx(best)
    assert choose_threshold(prob, labels) == pytest.approx(best / 2)   # the stored default


def test_default_threshold_carries_to_new_picks_better_than_the_validation_best():
    """With calibrated scores, half the validation F1 (the stored default)
    scores new picks better than the F1-best cut of a few hundred validation
    picks, and nearly as well as the best threshold for the new picks."""
    rng = np.random.default_rng(5)

    def picks(n):
        prob = rng.random(n)                  # a pick is a particle with its probability
        return prob, rng.random(n) < prob

    f1 = lambda kept, y: 2 * (kept & y).sum() / (kept.sum() + y.sum())  # noqa: E731
    new_prob, new_y = picks(20000)
    stored, validation_best = [], []
    for _ in range(40):
        prob, labels = picks(250)
        stored.append(f1(new_prob >= choose_threshold(prob, labels), new_y))
        validation_best.append(f1(new_prob >= best_f1_threshold(prob, labels), new_y))
    assert np.mean(stored) > np.mean(validation_best)
    assert np.sum(np.greater(stored, validation_best)) > 2 * np.sum(np.less(stored, validation_best))
    assert np.mean(stored) > max(f1(new_prob >= t, new_y) for t in np.linspace(0, 1, 101)) - 0.005


def test_default_threshold_falls_back_to_the_best_cut_for_uncalibrated_scores():
    """A network trained for a few steps scores every pick near the share of
    particles; half the validation F1 would then remove every pick."""
    rng = np.random.default_rng(3)
    labels = rng.random(300) < 0.4
    prob = 0.3 + 0.05 * labels + rng.normal(0, 0.01, 300)      # ranks well, all far below 0.5
    t = choose_threshold(prob, labels)
    assert t == best_f1_threshold(prob, labels) and (prob >= t).sum() > 0.3 * len(prob)

    assert default_threshold_rule(prob, labels, True) == (t, "best cut")
    calibrated = rng.random(300)
    assert default_threshold_rule(calibrated, rng.random(300) < calibrated, True)[1] == "half F1"
    assert default_threshold_rule(prob, labels, False) == (0.0, "one micrograph")
    assert default_threshold_rule(prob[:30], labels[:30], True) == (0.5, "too few")
    assert default_threshold_rule(rng.random(300), labels, True) == (0.0, "keep all")


def test_threshold_line_says_which_rule_chose_the_threshold():
    half = threshold_line(0.44, "half F1", 0.88)
    assert "half the best F1" in half and "0.880" in half and half.startswith("Default threshold for unpicker_eval.py: 0.440")
    assert "maximises F1" in threshold_line(0.13, "best cut", 0.88)
    # 0.5 with a validation F1 of exactly 1.0 is still the too-few rule, not half of it
    assert "fewer than 20" in threshold_line(0.5, "too few", 1.0)
    assert "half the best" not in threshold_line(0.5, "too few", 1.0)
    assert "not expected" in threshold_line(0.0, "keep all", 0.9)
    assert "one training" in threshold_line(0.0, "one micrograph")
    assert threshold_line(0.3, "given").endswith("0.300")


def test_threshold_keeps_everything_when_the_network_gains_too_little():
    rng = np.random.default_rng(1)
    labels = rng.random(600) < 0.86
    useless = rng.random(600)                 # scores unrelated to the labels
    assert choose_threshold(useless, labels) == 0.0
    useful = np.where(labels, 0.6, 0.2) + rng.normal(0, 0.05, 600)
    t = choose_threshold(useful, labels)
    assert 0.2 < t < 0.6 and MIN_F1_GAIN > 0


def test_threshold_needs_a_gain_that_holds_out_of_bag():
    labels = np.r_[np.ones(40, bool), np.zeros(25, bool)]
    prob = np.random.default_rng(19).random(65)          # scores unrelated to the labels
    f1 = lambda kept: 2 * (kept & labels).sum() / (kept.sum() + labels.sum())  # noqa: E731
    t = best_f1_threshold(prob, labels)
    assert f1(prob >= t) - f1(np.ones(65, bool)) >= 0.01   # in sample the gain looks real,
    assert choose_threshold(prob, labels) == 0.0           # out of bag it is not: keep every pick


def test_roc_auc_is_the_share_of_particle_non_particle_pairs_ranked_right():
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(2, 40))
        scores, labels = np.round(rng.random(n), 1), rng.random(n) < 0.4     # rounded: ties, counted half
        if labels.all() or not labels.any():
            assert np.isnan(roc_auc(scores, labels))
            continue
        diff = scores[labels][:, None] - scores[~labels][None, :]
        assert roc_auc(scores, labels) == pytest.approx(np.mean((diff > 0) + 0.5 * (diff == 0)))
