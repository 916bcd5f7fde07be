"""The training loop (Keras): :func:`train` trains and validates, logging and
checkpointing every 100 steps as the original did; :func:`refit` trains the
same networks afresh on every box, validation ones included, and stores the
threshold the validated training chose (:func:`refit_skipped` says when not).

An ensemble's networks (``resnet+seed``) learn side by side from the same
batches, so the logged errors and every checkpoint are those of the
ensemble: its score is the mean of its networks' calibrated logits, each
network averaging over its share of the test-time views.
"""
from __future__ import annotations

import io
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, TextIO

import numpy as np

from ..images.augment import default_shift_px
from ..images.preprocess import Preprocessing
from ..networks.architectures import build_network
from ..networks.backend import configure, keeps_dtype_policy
from ..networks.model_file import ModelInfo
from ..networks.scoring import ensemble_margin, member_views, sigmoid
from .checkpoints import save_model
from .log import TrainingLog, plot_history
from .optimisers import compile_network
from .plan import TrainConfig, TrainingPlan, plan_training
from .sampler import Batch, BatchSampler, loss_weights
from .threshold import CALIBRATED_RULES, best_f1, default_threshold, default_threshold_rule, threshold_line


class TrainingError(Exception):
    """Training that cannot go on (a loss that is not a finite number); the
    message says at which step and what to check."""


@dataclass
class TrainResult:
    """What a training reports.

    Attributes:
        validation_error: the final model's error (%) on the validation boxes (NaN: none).
        threshold: the default threshold stored in the model file.
        threshold_rule: which rule of :func:`.threshold.default_threshold_rule`
            chose it (``"given"``: the caller's).
        steps: steps trained.
        capped: whether the step cap stopped training before its epochs were done.
        seconds: wall time.
        history: the logged rows (:mod:`.log`).
        validation_prob: the final model's scores of the validation boxes.
        score: the final model as a function, (n, s, s) boxes -> P(particle)
            with every test-time view (what :func:`train` returns; None after :func:`refit`).
    """

    validation_error: float
    threshold: float
    threshold_rule: str
    steps: int
    capped: bool
    seconds: float
    history: list[dict] = field(default_factory=list)
    validation_prob: np.ndarray | None = None
    score: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass
class _Member:
    """One network being trained, alone or as an ensemble's member."""

    name: str
    model: object
    batch: int                 # boxes per optimiser update; a step may hold several
    schedule: object           # learning rate as a function of the update count
    updates_per_step: int
    views: tuple[int, ...]     # the test-time views it classifies


class _Training:
    """The networks of one training, their batches and their scores."""

    def __init__(self, x: np.ndarray, y: np.ndarray, settings: Preprocessing, config: TrainConfig,
                 out: TextIO, announce: bool) -> None:
        self.settings, self.config = settings, config
        configure(config.num_cores, config.seed, config.precision)
        self.plan: TrainingPlan = plan_training(len(x), config)
        plan = self.plan
        if plan.capped:
            why = "the default for an ensemble" if config.max_steps is None else "as asked"
            print(f"Training {plan.steps} steps ({plan.steps * plan.batch / plan.samples_per_epoch:.1f} epochs) "
                  f"of the {plan.epoch_steps} that {plan.epochs} epochs take: at most {plan.steps} steps, {why} "
                  "(--max_steps; 0 trains every epoch)", file=out)
        self.members = []
        for i, name in enumerate(plan.names):
            updates = plan.updates_per_step(i)
            model = build_network(name, settings.resized_px)
            schedule = compile_network(model, name, config.learning_rate, plan.steps_per_epoch * updates,
                                       plan.steps * updates)
            self.members.append(_Member(name, model, plan.network_batches[i], schedule, updates,
                                        member_views(config.tta, i, len(plan.names))))
        if announce and len(self.members) > 1:
            print(f"Networks: {' and '.join(plan.names)}, each learning from every batch; each classifies "
                  f"{len(self.members[0].views)} of the {config.tta} test-time views; the learning rate logged "
                  f"is {plan.names[0]}'s", file=out)
        weights, self.logit_shift = loss_weights(y)
        shift = default_shift_px(settings.resized_px) if config.shift_px is None else config.shift_px
        self.sampler = BatchSampler(x, y, weights, plan.batch, config.augmentation, shift, config.seed)

    def margin(self, x: np.ndarray, all_views: bool = True) -> np.ndarray:
        """The ensemble's calibrated logit: the mean over its networks, each on
        its views (or on the boxes as they are)."""
        return ensemble_margin([(m.model, self.logit_shift, m.views if all_views else (0,))
                                for m in self.members], x)

    def learn(self, batch: Batch) -> float:
        """One step: every network learns from the batch, in chunks of its own
        batch size. Returns the mean loss."""
        losses = []
        for m in self.members:
            chunks = [np.asarray(m.model.train_on_batch(batch.x[j:j + m.batch], batch.y[j:j + m.batch],
                                                        sample_weight=batch.weight[j:j + m.batch]))
                      for j in range(0, len(batch.y), m.batch)]
            losses.append(float(np.mean(chunks)))
        return float(np.mean(losses))

    def run(self, bar, on_log: Callable[[int, float, float], None] | None = None) -> None:
        """Train for the planned steps, counting them on ``bar``. Every
        ``log_every`` steps, ``on_log(step, loss, minibatch error)``, the
        error taken on the step's batch before the networks learn from it."""
        for step in range(self.plan.steps):
            batch = self.sampler.next_batch()
            logging = on_log is not None and step % self.config.log_every == 0
            if logging:
                mb_error = _error_pct(sigmoid(self.margin(batch.x, all_views=False)), batch.y.astype(bool))
            loss = self.learn(batch)
            if not math.isfinite(loss):
                raise TrainingError(
                    f"the training loss became {loss} at step {step}, so the networks learnt nothing usable; "
                    "check the micrographs for extreme pixel values (--sigma_contrast clips them)")
            bar.update(1)
            if logging:
                on_log(step, loss, mb_error)

    def save(self, path: Path, step: int, validation_error: float, threshold: float, extra: dict) -> None:
        save_model(path, [(m.name, m.model) for m in self.members], ModelInfo(
            self.config.network, self.settings, self.config.augmentation, threshold, step,
            None if math.isnan(validation_error) else validation_error, self.logit_shift, dict(extra)))


def _progress_bar(total: int, desc: str, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=not progress, file=sys.stderr, dynamic_ncols=True)


def _error_pct(prob: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> float:
    return 100.0 * float(np.mean((prob >= threshold) != labels)) if len(labels) else float("nan")


@keeps_dtype_policy
def train(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray,
          settings: Preprocessing, config: TrainConfig, output: str | Path, extra_info: dict | None = None,
          out: TextIO = sys.stdout, progress: bool = True, held_out_micrographs: bool = True,
          final_checkpoint: bool = False, on_checkpoint: Callable[[Path], None] | None = None) -> TrainResult:
    """Train and validate, logging and checkpointing every ``config.log_every`` steps.

    Args:
        train_x, val_x: (n, s, s) float32 standardised boxes (not augmented).
        train_y, val_y: (n,) bool, True for particles.
        output: the model file; checkpoints are ``output-STEP``.
        extra_info: stored in the model file (training figures, versions).
        held_out_micrographs: whether the validation boxes come from
            micrographs not trained on. When not (a single training
            micrograph), the stored default threshold keeps every pick.
        final_checkpoint: also save the final model as ``output-STEP``, the
            name the lowest-validation-error line then gives it (so that it
            outlives a :func:`refit` into ``output``).
        on_checkpoint: called with each checkpoint's path once it is written.

    Raises :class:`TrainingError` when the loss stops being a finite number.
    Writes ``output`` (+ weights), the checkpoints, ``output.log.csv`` and
    ``output.png``; the default threshold is chosen on the validation boxes
    (:func:`.threshold.default_threshold_rule`).
    """
    t_start = time.perf_counter()
    output = Path(output)
    extra_info = {**(extra_info or {}), "tta": config.tta}
    training = _Training(train_x, train_y, settings, config, out, announce=True)
    plan = training.plan
    val_y = np.asarray(val_y, bool)

    def validate() -> tuple[float, np.ndarray]:
        """The validation error (%) and the validation boxes' probabilities."""
        if len(val_x) == 0:
            return float("nan"), np.zeros(0, np.float32)
        prob = sigmoid(training.margin(val_x))
        return _error_pct(prob, val_y), prob

    best = (math.inf, -1, output)
    print("Initialized!", file=out, flush=True)
    bar = _progress_bar(plan.steps, "Training", progress)
    log = TrainingLog(Path(f"{output}.log.csv"), out, bar.write)

    def on_log(step: int, loss: float, mb_error: float) -> None:
        nonlocal best
        val_error, val_prob = validate()
        lr = float(training.members[0].schedule(step * training.members[0].updates_per_step))
        checkpoint = Path(f"{output}-{step}")
        training.save(checkpoint, step, val_error, default_threshold(val_prob, val_y, held_out_micrographs),
                      extra_info)
        if val_error < best[0]:
            best = (val_error, step, checkpoint)
        if on_checkpoint:
            on_checkpoint(checkpoint)
        log.record({"step": step, "epoch": round(step * plan.batch / plan.samples_per_epoch, 4), "loss": loss,
                    "minibatch_error": mb_error, "validation_error": val_error, "learning_rate": lr}, checkpoint)

    try:
        training.run(bar, on_log)
    finally:
        bar.close()
        log.close()

    final_error, prob = validate()
    threshold, rule = default_threshold_rule(prob, val_y, held_out_micrographs)
    # stored so that the model file says what refit_skipped decides by
    extra_info = {**extra_info, "threshold_rule": rule, "capped": plan.capped}
    print(f"Training completed, final validation error: {final_error:.1f}%", file=out)
    training.save(output, plan.steps, final_error, threshold, extra_info)
    print(f"Trained model saved in file {output}", file=out)
    final_name = output
    if final_checkpoint:
        final_name = Path(f"{output}-{plan.steps}")
        training.save(final_name, plan.steps, final_error, threshold, extra_info)
    if final_error < best[0]:   # the final model competes with the checkpoints
        best = (final_error, plan.steps, final_name)
    if best[1] >= 0:
        print(f"Lowest validation error: {best[0]:.1f}% at step {best[1]} (model {best[2]})", file=out)
    print(threshold_line(threshold, rule, best_f1(prob, val_y) if len(val_y) else None), file=out)
    plot_history(log.history, Path(f"{output}.png"))
    return TrainResult(final_error, threshold, rule, plan.steps, plan.capped, time.perf_counter() - t_start,
                       log.history, prob, lambda x: sigmoid(training.margin(x)))


def refit_skipped(threshold_rule: str, capped: bool) -> str | None:
    """Why no :func:`refit` follows a validated training whose threshold
    ``threshold_rule`` chose and which the step cap cut short or not
    (``capped``); None: one does. Both are stored in the model file.

    A refit trains the same networks afresh, the same way, on the validation
    micrographs too, and stores the threshold the validation set. That
    carries over where the threshold comes from calibration ("half F1", or
    0.5 with few validation boxes): the refitted scores are calibrated the
    same way. It does not where it is one network's F1-best cut, nor where
    the validation says to keep every pick. Where the step cap cut the
    training short, the training set is large, the validation micrographs
    add a small share to it, and a refit would take as long again."""
    if threshold_rule == "keep all":
        return "the validation micrographs say to keep every pick"
    if threshold_rule not in CALIBRATED_RULES:
        return f"the threshold ({threshold_rule}) belongs to the validated network's own scores"
    if capped:
        return "training stopped at the step cap; a refit would take as long again"
    return None


@keeps_dtype_policy
def refit(x: np.ndarray, y: np.ndarray, settings: Preprocessing, config: TrainConfig, output: str | Path,
          threshold: float, threshold_rule: str, extra_info: dict | None = None, out: TextIO = sys.stdout,
          progress: bool = True) -> TrainResult:
    """Train the networks afresh on every box (no validation, log lines or
    checkpoints: only a progress bar) and save them as ``output`` with
    ``threshold``, which ``threshold_rule`` chose on a validated training."""
    t_start = time.perf_counter()
    training = _Training(x, y, settings, config, out, announce=False)
    bar = _progress_bar(training.plan.steps, "Refitting", progress)
    try:
        training.run(bar)
    finally:
        bar.close()
    extra_info = {**(extra_info or {}), "tta": config.tta, "threshold_rule": threshold_rule,
                  "capped": training.plan.capped}
    training.save(Path(output), training.plan.steps, float("nan"), threshold, extra_info)
    return TrainResult(float("nan"), threshold, threshold_rule, training.plan.steps, training.plan.capped,
                       time.perf_counter() - t_start)


@keeps_dtype_policy
def trial(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, settings: Preprocessing,
          config: TrainConfig, steps: int) -> np.ndarray:
    """Train the networks for ``steps`` steps (no log, checkpoints or files)
    and return their scores of ``val_x``, every test-time view: a short
    training that compares one preprocessing with another."""
    training = _Training(train_x, train_y, settings, replace(config, max_steps=steps), io.StringIO(), announce=False)
    training.run(_progress_bar(0, "", False))
    return sigmoid(training.margin(val_x))
