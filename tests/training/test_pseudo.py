"""Pseudo-labels for self-training (unpicker/training/pseudo.py)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from unpicker.training.pseudo import choose_pseudo_labels


def test_the_most_confident_of_each_class_in_the_users_proportions():
    prob = np.array([0.99, 0.5, 0.01, 0.97, 0.02, 0.96, 0.04, 0.999, 0.03, 0.6])
    idx, labels = choose_pseudo_labels(prob, n_particles=1, n_non_particles=2, confidence=0.95)
    # 3 user labels cap the total at 3: one P (the surest, 0.999) and two N (0.01, 0.02)
    assert idx.tolist() == [2, 4, 7] and labels.tolist() == [False, False, True]


def test_none_where_one_class_has_no_confident_pick():
    prob = np.array([0.99, 0.98, 0.5, 0.4])
    idx, labels = choose_pseudo_labels(prob, 10, 10)
    assert len(idx) == 0 and len(labels) == 0
    assert len(choose_pseudo_labels(prob, 0, 10)[0]) == 0      # no P labels: no proportions to keep


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=0, max_size=300), st.integers(1, 200), st.integers(1, 200),
       st.floats(0.6, 0.99), st.floats(0.1, 2.0))
def test_pseudo_labels_are_confident_capped_and_in_proportion(values, n_p, n_n, confidence, max_share):
    prob = np.array(values)
    idx, labels = choose_pseudo_labels(prob, n_p, n_n, confidence, max_share)
    assert len(idx) == len(labels) == len(set(idx.tolist())) and np.all(np.diff(idx) > 0)
    assert len(idx) <= max_share * (n_p + n_n)
    assert np.all(prob[idx[labels]] >= confidence) and np.all(prob[idx[~labels]] <= 1 - confidence)
    if len(idx):
        k_p = int(labels.sum())
        assert abs(k_p - len(idx) * n_p / (n_p + n_n)) <= 1     # the user's share of P, to one pick
        # the surest of each class: no confident pick left out is surer than one taken
        rest = np.setdiff1d(np.arange(len(prob)), idx)
        assert not np.any(prob[rest] > prob[idx[labels]].min())
        assert not np.any(prob[rest] < prob[idx[~labels]].max())
