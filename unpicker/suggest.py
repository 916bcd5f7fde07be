"""Which micrographs a user should clean next (``unpicker_eval.py --suggest N``).

Pure functions over the scores an unpicking run wrote; no TensorFlow.

A micrograph teaches the model most when the model is unsure of its picks
and when it is unlike the micrographs the model was trained on. Both are
read from the scores alone:

- **uncertainty**: the mean, over the micrograph's picks, of how close each
  score lies to the threshold, ``1 - |score - threshold| / max(threshold,
  1 - threshold)`` (1 at the threshold, 0 at the far end of the scale); where
  the model keeps or removes every pick (a threshold of 0 or 1, outside
  [0.05, 0.95]), of how close it lies to 0.5, as the scores are
  probabilities;
- **novelty**: how far the share of picks the model keeps on it lies from
  the share of particles among the training picks, ``|kept share -
  training share|`` (a micrograph full of carbon or ice, or of particles,
  unlike the cleaned ones).

The priority is their sum (both lie in [0, 1]); micrographs the model was
trained on are never suggested.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Suggestion:
    """One micrograph to clean: its name, number of picks, uncertainty,
    share of picks kept at the threshold, novelty and priority (see the
    module docstring)."""

    name: str
    picks: int
    uncertainty: float
    kept_share: float
    novelty: float

    @property
    def priority(self) -> float:
        return self.uncertainty + self.novelty


def closeness(scores: np.ndarray, threshold: float) -> np.ndarray:
    """How close each score lies to the threshold: 1 at it, 0 at 0 or 1
    (whichever is farther from it)."""
    span = max(threshold, 1.0 - threshold)
    return 1.0 - np.abs(np.asarray(scores, float) - threshold) / span


def suggest_micrographs(scores: Mapping[str, Iterable[float]], threshold: float, n: int,
                        trained_on: Iterable[str] = (), training_share: float | None = None) -> list[Suggestion]:
    """The ``n`` micrographs most worth cleaning next, highest priority first.

    Args:
        scores: each micrograph's pick scores (particle probabilities, 0-1).
        threshold: the unpicking threshold.
        n: how many to suggest.
        trained_on: names of micrographs the model was trained on (never suggested).
        training_share: share of particles among the training picks; None:
            the mean kept share of the micrographs scored (novelty is then
            the distance from the typical micrograph).
    """
    exclude = set(trained_on)
    rows = [(name, np.asarray(list(s), float)) for name, s in scores.items() if name not in exclude]
    rows = [(name, s) for name, s in rows if len(s)]
    if not rows or n <= 0:
        return []
    kept = {name: float(np.mean(s >= threshold)) for name, s in rows}
    typical = float(np.mean(list(kept.values()))) if training_share is None else float(training_share)
    centre = threshold if 0.05 <= threshold <= 0.95 else 0.5
    found = [Suggestion(name, len(s), float(closeness(s, centre).mean()), kept[name], abs(kept[name] - typical))
             for name, s in rows]
    found.sort(key=lambda g: (-g.priority, g.name))
    return found[:n]


def format_suggestions(suggestions: list[Suggestion]) -> list[str]:
    """One line per suggestion, for the terminal and the log."""
    return [f"  {i}. {g.name}: {g.picks} picks, uncertainty {g.uncertainty:.2f}, {100 * g.kept_share:.0f}% kept "
            f"(novelty {g.novelty:.2f})" for i, g in enumerate(suggestions, 1)]
