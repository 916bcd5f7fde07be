"""The default threshold a model file stores, chosen from the validation
boxes' scores (pure numpy).

Scores are probabilities of being a particle; a pick is kept when its score
is at or above the threshold. F1 is that of the kept picks against the
labels (True: a particle the user kept). The rules, and why each exists, are
in :func:`default_threshold_rule` and docs/design.md.
"""
from __future__ import annotations

import numpy as np

# Fewer validation boxes of either class than this: the threshold is 0.5.
MIN_PER_CLASS_FOR_THRESHOLD = 20
# The F1 gain over keeping every pick below which the network is not trusted
# to remove anything by default. The gain is estimated out of bag (below):
# the gain of the best threshold on the validation picks themselves is
# optimistic, and on the real crYOLO benchmark such small in-sample gains
# turned into losses on held-out micrographs.
MIN_F1_GAIN = 0.01
BOOTSTRAP_RESAMPLES = 200
# The rules default_threshold_rule names. A threshold set by a calibration
# rule ("half F1", "too few") carries over to another network trained the
# same way (see loop.refit_skipped); the F1-best cut belongs to one network's scores.
CALIBRATED_RULES = ("half F1", "too few")


def _f1_curve(prob: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The picks in order of falling probability, and the F1 of keeping the
    first 1, 2, ... of them."""
    order = np.argsort(-prob)
    tp = np.cumsum(labels[order])
    kept = np.arange(1, len(prob) + 1)
    return order, 2 * tp / (kept + labels.sum())


def best_f1_threshold(prob: np.ndarray, labels: np.ndarray) -> float:
    """The probability threshold that maximises the F1 of the kept picks."""
    if len(labels) == 0 or labels.sum() == 0:
        return 0.5
    order, f1 = _f1_curve(prob, labels)
    i = int(np.argmax(f1))
    # halfway between the last kept and the first removed probability
    nxt = prob[order[i + 1]] if i + 1 < len(prob) else 0.0
    return float((prob[order[i]] + nxt) / 2)


def best_f1(prob: np.ndarray, labels: np.ndarray) -> float:
    """The highest F1 of the kept picks that any threshold reaches."""
    if len(labels) == 0 or labels.sum() == 0:
        return 0.0
    return float(_f1_curve(prob, labels)[1].max())


def _f1(kept: np.ndarray, labels: np.ndarray) -> float:
    return float(2 * (kept & labels).sum() / max(kept.sum() + labels.sum(), 1))


def out_of_bag_f1_gain(prob: np.ndarray, labels: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = 0) -> float:
    """The F1 gain over keeping every pick that choosing the F1-best threshold
    on these picks can be expected to bring on new picks: the threshold is
    chosen on a bootstrap resample and scored on the picks left out of it,
    averaged over resamples."""
    labels = np.asarray(labels, bool)
    rng = np.random.default_rng(seed)
    n = len(prob)
    gains = []
    for _ in range(resamples):
        drawn = rng.integers(0, n, n)
        left_out = np.ones(n, bool)
        left_out[drawn] = False
        if not labels[left_out].any():
            continue
        t = best_f1_threshold(prob[drawn], labels[drawn])
        y = labels[left_out]
        gains.append(_f1(prob[left_out] >= t, y) - _f1(np.ones(len(y), bool), y))
    return float(np.mean(gains)) if gains else 0.0


def default_threshold(prob: np.ndarray, labels: np.ndarray, held_out_micrographs: bool) -> float:
    """The threshold a model file stores from its validation scores
    (:func:`default_threshold_rule`, without the rule's name)."""
    return default_threshold_rule(prob, labels, held_out_micrographs)[0]


def default_threshold_rule(prob: np.ndarray, labels: np.ndarray, held_out_micrographs: bool
                           ) -> tuple[float, str]:
    """The default threshold from the validation boxes' probabilities and
    labels, and the name of the rule that set it:

    - "one micrograph": 0 (keep every pick) when the validation boxes come
      from the micrograph trained on (``held_out_micrographs`` False): its
      picks say little about other micrographs (on the real benchmark the
      threshold chosen on them removed true particles elsewhere);
    - "too few": 0.5 when they hold fewer than 20 of either class;
    - "keep all": 0 when the out-of-bag estimate of what the F1-best
      threshold gains over keeping everything is under ``MIN_F1_GAIN``;
    - "half F1": half the best F1 any threshold reaches on them;
    - "best cut": the F1-best cut on them, where half that F1 would score
      them below keeping every pick (scores far from calibrated).

    For calibrated probabilities the threshold that maximises the expected F1
    is half that F1 (Lipton, Elkan & Narayanaswamy, ECML PKDD 2014). The
    scores are calibrated to the share of particles among the user's picks
    (the logit shift of training), so this uses the validation boxes only
    for the F1 level, not for where exactly their own best cut lies: on a few
    hundred validation picks that cut moved between 0.03 and 0.89 from run to
    run, and it lost held-out F1 against this rule on the benchmark
    (docs/design.md)."""
    labels = np.asarray(labels, bool)
    if not held_out_micrographs and len(labels):
        return 0.0, "one micrograph"
    if min(labels.sum(), (~labels).sum()) < MIN_PER_CLASS_FOR_THRESHOLD:
        return 0.5, "too few"
    if out_of_bag_f1_gain(prob, labels) < MIN_F1_GAIN:
        return 0.0, "keep all"
    threshold = best_f1(prob, labels) / 2
    if _f1(prob >= threshold, labels) < _f1(np.ones(len(labels), bool), labels):
        # scores far from calibrated (a network trained for a few steps sits
        # near the share of particles): fall back to the F1-best cut
        return best_f1_threshold(prob, labels), "best cut"
    return threshold, "half F1"


def threshold_line(threshold: float, rule: str, validation_f1: float | None = None) -> str:
    """The log line that states the stored default threshold and why.

    ``rule``: the name :func:`default_threshold_rule` gave it ("given": set
    by the caller); ``validation_f1``: the best F1 on the validation boxes."""
    whys = {
        "one micrograph": ("keep every pick: with one training micrograph the network cannot be checked on a"
                           " micrograph it has not seen; clean a second one, or choose --threshold from the"
                           " score histogram of unpicker_eval.py"),
        "keep all": ("keep every pick: on the validation micrographs removing picks is not expected"
                     f" to gain {MIN_F1_GAIN} F1; --threshold overrides"),
        "half F1": (f"half the best F1 of the kept picks on the validation micrographs, {validation_f1 or 0:.3f}:"
                    " for calibrated probabilities the threshold of the highest expected F1"),
        "too few": (f"even odds: fewer than {MIN_PER_CLASS_FOR_THRESHOLD} validation boxes of a class"
                    " to choose one by"),
        "best cut": ("maximises F1 of the kept picks on the validation micrographs: their scores are too far"
                     " from calibrated for half that F1"),
    }
    why = f" ({whys[rule]})" if rule in whys else ""
    return f"Default threshold for unpicker_eval.py: {threshold:.3f}{why}"


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """The area under the ROC curve: the chance that a random particle
    scores above a random non-particle, ties counted half (the Mann-Whitney
    statistic from the scores' ranks); NaN without both classes."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2.0     # of each distinct score, 1-based
    rank_sum = mean_rank[inverse.ravel()][labels].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
