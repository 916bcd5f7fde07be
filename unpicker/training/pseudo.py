"""Self-training on the picks no one labelled (pure numpy).

After the validated training, its networks score the picks of micrographs
the user did not clean: the very picks the model will unpick. Those it is
most sure of become *pseudo-labels* (P above ``confidence``, N below
``1 - confidence``), and the refit learns from them beside the user's
labels, so that it sees the other micrographs' ice, carbon and particles
too, with the same augmentations.

Two rules keep the pseudo-labels from steering the model: their classes
come in the user's proportions (so the class weights, the logit shift and
the stored threshold keep their meaning), and there are at most as many as
the user's labels (``max_share`` of them), so the user's labels keep at least
half the weight.
"""
from __future__ import annotations

import numpy as np

CONFIDENCE = 0.95       # FixMatch's threshold on the teacher's probability
MAX_SHARE = 1.0         # at most this many pseudo-labels per user label


def choose_pseudo_labels(prob: np.ndarray, n_particles: int, n_non_particles: int,
                         confidence: float = CONFIDENCE, max_share: float = MAX_SHARE
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The unlabelled picks to learn from and their labels.

    Args:
        prob: (n,) the validated model's calibrated P(particle) of each unlabelled pick.
        n_particles, n_non_particles: the user's labels (P and N) in the training set.
        confidence: a pick becomes P at ``prob >= confidence`` and N at ``prob <= 1 - confidence``.
        max_share: at most ``max_share`` x the user's labels in all.

    Returns (indices into ``prob``, bool labels): the most confident of each
    class, as many of each as keeps the user's P : N proportion, sorted by index.
    """
    prob = np.asarray(prob, np.float64)
    n_user = n_particles + n_non_particles
    if n_particles == 0 or n_non_particles == 0 or len(prob) == 0:
        return np.zeros(0, int), np.zeros(0, bool)
    share_p = n_particles / n_user
    pos = np.flatnonzero(prob >= confidence)
    neg = np.flatnonzero(prob <= 1.0 - confidence)
    # the largest total whose P : N split fits what is confident, and the cap
    total = min(int(max_share * n_user), int(len(pos) / share_p), int(len(neg) / (1.0 - share_p)))
    k_pos = int(round(total * share_p))
    k_neg = total - k_pos
    k_pos, k_neg = min(k_pos, len(pos)), min(k_neg, len(neg))
    if k_pos == 0 or k_neg == 0:
        return np.zeros(0, int), np.zeros(0, bool)
    top = pos[np.argsort(-prob[pos], kind="stable")[:k_pos]]
    bottom = neg[np.argsort(prob[neg], kind="stable")[:k_neg]]
    idx = np.concatenate([top, bottom])
    labels = np.concatenate([np.ones(k_pos, bool), np.zeros(k_neg, bool)])
    order = np.argsort(idx, kind="stable")
    return idx[order], labels[order]
