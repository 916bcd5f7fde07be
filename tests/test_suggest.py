"""Which micrographs to clean next: uncertainty and novelty from the scores."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from unpicker.suggest import closeness, format_suggestions, suggest_micrographs


def test_closeness_is_one_at_the_threshold_and_zero_at_the_far_end():
    assert closeness(np.array([0.3, 0.0, 1.0]), 0.3).tolist() == [1.0, 1 - 0.3 / 0.7, 0.0]
    assert closeness(np.array([0.5, 0.0, 1.0]), 0.5).tolist() == [1.0, 0.0, 0.0]


def test_uncertain_micrographs_come_first_and_trained_ones_never():
    scores = {"sure": [0.01, 0.99, 0.98, 0.02], "unsure": [0.45, 0.55, 0.5, 0.52],
              "trained": [0.5, 0.5, 0.5, 0.5], "empty": []}
    got = suggest_micrographs(scores, 0.5, 5, trained_on=["trained"], training_share=0.5)
    assert [g.name for g in got] == ["unsure", "sure"]
    assert got[0].picks == 4 and got[0].kept_share == 0.75


def test_novelty_breaks_a_tie_in_uncertainty():
    # equally sure of every pick, but one keeps far more than the training share
    scores = {"typical": [0.1, 0.9, 0.1, 0.9], "crowded": [0.9, 0.9, 0.9, 0.9]}
    got = suggest_micrographs(scores, 0.5, 2, training_share=0.5)
    assert [g.name for g in got] == ["crowded", "typical"]
    assert got[0].novelty == 0.5 and got[1].novelty == 0.0


def test_without_a_training_share_novelty_is_from_the_typical_micrograph():
    scores = {f"m{i}": [0.9, 0.1] for i in range(4)} | {"odd": [0.1, 0.1]}
    assert suggest_micrographs(scores, 0.5, 1)[0].name == "odd"


@given(st.dictionaries(st.text("abc", min_size=1, max_size=3),
                       st.lists(st.floats(0, 1), min_size=1, max_size=20), min_size=1, max_size=8),
       st.floats(0.05, 0.95), st.integers(0, 10))
def test_suggestions_are_ranked_bounded_and_from_the_input(scores, threshold, n):
    got = suggest_micrographs(scores, threshold, n)
    assert len(got) == min(n, len(scores))
    assert all(g.name in scores and g.picks == len(scores[g.name]) for g in got)
    assert all(0 <= g.uncertainty <= 1 and 0 <= g.novelty <= 1 for g in got)
    assert [g.priority for g in got] == sorted((g.priority for g in got), reverse=True)
    assert len(format_suggestions(got)) == len(got)


def test_a_keep_everything_threshold_measures_uncertainty_around_one_half():
    scores = {"sure": [0.02, 0.97, 0.99], "unsure": [0.45, 0.6, 0.5]}
    for threshold in (0.0, 1.0):
        got = suggest_micrographs(scores, threshold, 2, training_share=0.5)
        assert got[0].name == "unsure" and got[0].uncertainty > 0.8
