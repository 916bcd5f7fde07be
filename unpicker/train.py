"""Training the network on extracted boxes (TensorFlow/Keras lives here and in model.py).

An epoch is, as in the original, one pass over the training boxes under each
of the four 90° rotations (4 x boxes samples). With the ``d8`` augmentation
each sample gets a random element of the dihedral group instead of a fixed
rotation; ``rot4`` uses the four rotations; ``none`` the boxes as they are.
Classes are balanced by weighting each sample by the inverse frequency of its
class, so every removed pick is used once and neither class dominates.
"""
from __future__ import annotations

import csv
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .boxes import GROUP_SIZES, dihedral
from .modelfile import ModelInfo, weights_path, write_model_info
from .preprocess import Preprocessing

ROTATIONS_PER_EPOCH = 4
LOG_EVERY = 100


@dataclass
class TrainConfig:
    network: str = "resnet"
    num_epochs: int = 15
    batch_size: int | None = None         # None: 64 for seed, 128 for resnet
    learning_rate: float | None = None    # None: 0.01 for seed, 0.002 for resnet
    augmentation: str = "d8"
    seed: int = 66478
    num_cores: int = 4
    log_every: int = LOG_EVERY
    tta: int = 4                          # symmetries averaged at validation and evaluation
    precision: str = "float32"            # or "mixed" (see configure_backend)


@dataclass
class TrainResult:
    final_validation_error: float
    best_step: int
    best_validation_error: float
    best_path: Path
    threshold: float
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    validation_margin: np.ndarray | None = None   # final calibrated logits of the validation boxes


def gpu_present() -> bool:
    """Whether the Keras backend sees a GPU (TensorFlow, JAX or PyTorch)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


PRECISIONS = ("float32", "mixed")


def configure_backend(num_cores: int, seed: int | None, precision: str = "float32") -> None:
    """Threads (TensorFlow), determinism, and the numeric precision; call
    before building a model. ``mixed`` computes in float16 with float32
    weights; it is not the default even on a GPU, where these small networks
    trained slower with it (BENCHMARKS.md, "On a GPU")."""
    import keras

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(num_cores)
            tf.config.threading.set_inter_op_parallelism_threads(num_cores)
        except RuntimeError:
            pass  # already initialised in this process (tests); keep its setting
        if seed is not None and not gpu_present():
            tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy("mixed_float16" if precision == "mixed" else "float32")
    if seed is not None:
        keras.utils.set_random_seed(seed)


def _compile(model, config: TrainConfig, steps_per_epoch: int, total_steps: int):
    import keras

    if config.network == "seed":
        lr = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate or 0.01, decay_steps=max(steps_per_epoch, 1), decay_rate=0.95, staircase=True)
        optimizer = keras.optimizers.SGD(lr, momentum=0.9)
    else:
        peak = config.learning_rate or 2e-3
        warmup = min(200, total_steps // 10)
        lr = keras.optimizers.schedules.CosineDecay(
            peak / 10, decay_steps=max(total_steps - warmup, 1), alpha=0.02,
            warmup_target=peak, warmup_steps=warmup)
        optimizer = keras.optimizers.AdamW(lr, weight_decay=1e-4)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return lr


def _error_pct(prob: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> float:
    return 100.0 * float(np.mean((prob >= threshold) != labels)) if len(labels) else float("nan")


def best_f1_threshold(prob: np.ndarray, labels: np.ndarray) -> float:
    """The probability threshold that maximises the F1 of the kept picks."""
    if len(labels) == 0 or labels.sum() == 0:
        return 0.5
    order = np.argsort(-prob)
    tp = np.cumsum(labels[order])
    kept = np.arange(1, len(prob) + 1)
    f1 = 2 * tp / (kept + labels.sum())
    i = int(np.argmax(f1))
    # halfway between the last kept and the first removed probability
    nxt = prob[order[i + 1]] if i + 1 < len(prob) else 0.0
    return float((prob[order[i]] + nxt) / 2)


MIN_PER_CLASS_FOR_THRESHOLD = 20


# The F1 gain over keeping every pick below which the network is not trusted
# to remove anything by default. The gain is estimated out of bag (below):
# the gain of the best threshold on the validation picks themselves is
# optimistic, and on the real crYOLO benchmark such small in-sample gains
# turned into losses on held-out micrographs.
MIN_F1_GAIN = 0.01
BOOTSTRAP_RESAMPLES = 200


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
    """The threshold a model file stores from its validation scores: that of
    :func:`choose_threshold` (0.5 without validation boxes), or 0 (keep every
    pick) when the validation boxes come from the micrograph trained on: its
    picks say little about other micrographs (on the real benchmark the
    threshold chosen on them removed true particles elsewhere)."""
    if not held_out_micrographs and len(labels):
        return 0.0
    return choose_threshold(prob, labels)


def choose_threshold(prob: np.ndarray, labels: np.ndarray) -> float:
    """The default threshold stored in the model: the F1-maximising one on the
    validation boxes when they hold at least 20 of each class (else 0.5), or
    0 (keep every pick) when the out-of-bag estimate of its gain over
    keeping everything is under ``MIN_F1_GAIN``."""
    labels = np.asarray(labels, bool)
    if min(labels.sum(), (~labels).sum()) < MIN_PER_CLASS_FOR_THRESHOLD:
        return 0.5
    if out_of_bag_f1_gain(prob, labels) < MIN_F1_GAIN:
        return 0.0
    return best_f1_threshold(prob, labels)


def _plot(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .files import atomic_output

    steps = [h["step"] for h in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(steps, [h["loss"] for h in history], label="minibatch loss")
    a1.set_xlabel("step"), a1.set_ylabel("loss"), a1.legend()
    a2.plot(steps, [h["minibatch_error"] for h in history], label="minibatch error")
    a2.plot(steps, [h["validation_error"] for h in history], label="validation error")
    a2.set_xlabel("step"), a2.set_ylabel("error (%)"), a2.legend()
    fig.tight_layout()
    tmp = atomic_output(path)
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def train_model(
    train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray,
    settings: Preprocessing, config: TrainConfig, output: str | Path,
    extra_info: dict | None = None, out=sys.stdout, progress: bool = True,
    held_out_micrographs: bool = True,
) -> TrainResult:
    """Train, logging and checkpointing every ``config.log_every`` steps.

    Args:
        train_x, val_x: (n, s, s) float32 normalised boxes (not augmented).
        train_y, val_y: (n,) bool, True for particles.
        output: the model file; checkpoints are ``output-STEP``.
        held_out_micrographs: whether the validation boxes come from
            micrographs not trained on. When not (a single training
            micrograph), the stored default threshold keeps every pick.
    Writes ``output`` (+ weights), the checkpoints, ``output.log.csv`` and
    ``output.png``; returns the figures.
    """
    from tqdm import tqdm

    from .files import atomic_output
    from .model import build_network, particle_margin, particle_probability

    output = Path(output)
    extra_info = {**(extra_info or {}), "tta": config.tta}
    t_start = time.perf_counter()
    configure_backend(config.num_cores, config.seed, config.precision)
    model = build_network(config.network, settings.resized_px)
    batch = config.batch_size or (64 if config.network == "seed" else 128)
    n_train = len(train_x)
    if n_train < 2:
        raise ValueError("need at least two training boxes")
    batch = min(batch, n_train)
    samples_per_epoch = ROTATIONS_PER_EPOCH * n_train
    steps_per_epoch = max(samples_per_epoch // batch, 1)
    total_steps = max(config.num_epochs * samples_per_epoch // batch, 1)
    schedule = _compile(model, config, steps_per_epoch, total_steps)
    rng = np.random.default_rng(config.seed)

    labels = train_y.astype(np.int64)
    n_pos = max(int(labels.sum()), 1)
    n_neg = max(n_train - int(labels.sum()), 1)
    class_weight = np.array([n_train / (2 * n_neg), n_train / (2 * n_pos)], np.float32)
    # the weighting multiplies the odds by n_neg / n_pos; scores undo it
    logit_shift = float(np.log(n_pos / n_neg))
    group = GROUP_SIZES[config.augmentation]

    # the sample order: every box under each of the 4 rotation slots, shuffled per epoch
    def epoch_order() -> tuple[np.ndarray, np.ndarray]:
        idx = np.tile(np.arange(n_train), ROTATIONS_PER_EPOCH)
        slot = np.repeat(np.arange(ROTATIONS_PER_EPOCH), n_train)
        p = rng.permutation(len(idx))
        return idx[p], slot[p]

    def transforms(slot: np.ndarray) -> np.ndarray:
        if group == 1:
            return np.zeros_like(slot)
        if group == 4:
            return slot
        return rng.integers(0, 8, size=len(slot))

    log_path = Path(str(output) + ".log.csv")
    fields = ["step", "epoch", "loss", "minibatch_error", "validation_error", "learning_rate"]
    history: list[dict] = []
    best = (math.inf, -1, output)

    def save(path: Path, step: int, val_error: float, threshold: float) -> None:
        tmp = atomic_output(weights_path(path))
        model.save_weights(tmp)
        os.replace(tmp, weights_path(path))
        write_model_info(path, ModelInfo(config.network, settings, config.augmentation, threshold, step,
                                         val_error, logit_shift, dict(extra_info or {})))

    def validate() -> tuple[float, np.ndarray, np.ndarray]:
        if len(val_x) == 0:
            return float("nan"), np.zeros(0, np.float32), np.zeros(0)
        margin = particle_margin(model, val_x, logit_shift=logit_shift, symmetries=config.tta)
        prob = 1.0 / (1.0 + np.exp(-margin))
        return _error_pct(prob, val_y), prob, margin

    print("Initialized!", file=out, flush=True)
    order, slots = epoch_order()
    pos = 0
    bar = tqdm(total=total_steps, desc="Training", unit="step", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    with open(log_path, "w", newline="") as log_file:
        writer = csv.DictWriter(log_file, fieldnames=fields)
        writer.writeheader()
        for step in range(total_steps):
            if pos + batch > len(order):
                order, slots = epoch_order()
                pos = 0
            idx, slot = order[pos:pos + batch], slots[pos:pos + batch]
            pos += batch
            xb = dihedral(train_x[idx], transforms(slot))[..., None]
            yb = labels[idx]
            logging_step = step % config.log_every == 0
            if logging_step:
                mb_error = _error_pct(particle_probability(model, xb, logit_shift=logit_shift), yb.astype(bool))
            loss = float(np.asarray(model.train_on_batch(xb, yb, sample_weight=class_weight[yb])))
            bar.update(1)
            if logging_step:
                val_error, val_prob, _ = validate()
                lr = float(schedule(step))
                epoch = step * batch / samples_per_epoch
                row = {"step": step, "epoch": round(epoch, 4), "loss": loss, "minibatch_error": mb_error,
                       "validation_error": val_error, "learning_rate": lr}
                history.append(row)
                writer.writerow(row)
                log_file.flush()
                ckpt = Path(f"{output}-{step}")
                save(ckpt, step, val_error, default_threshold(val_prob, val_y, held_out_micrographs))
                if val_error < best[0]:
                    best = (val_error, step, ckpt)
                bar.write(f"Epoch {epoch:.2f}\nStep {step}\n"
                          f"Minibatch loss: {loss:.3f}, learning rate: {lr:.6f}\n"
                          f"Minibatch error: {mb_error:.1f}%\nValidation error: {val_error:.1f}%\n"
                          f"Step {step} model saved in file {ckpt}", file=out)
                out.flush()
    bar.close()

    final_error, prob, val_margin = validate()
    threshold = default_threshold(prob, val_y, held_out_micrographs)
    print(f"Training completed, final validation error: {final_error:.1f}%", file=out)
    save(output, total_steps, final_error, threshold)
    print(f"Trained model saved in file {output}", file=out)
    if best[1] >= 0:
        print(f"Lowest validation error: {best[0]:.1f}% at step {best[1]} (model {best[2]})", file=out)
    print(threshold_line(threshold, held_out_micrographs or not len(val_y)), file=out)
    try:
        _plot(history, Path(str(output) + ".png"))
    except Exception as e:  # a plot is a convenience; never fail training for it
        print(f"Could not draw the training plot: {e}", file=sys.stderr)
    seconds = time.perf_counter() - t_start
    return TrainResult(final_error, best[1], best[0], best[2], threshold, history, seconds, total_steps,
                       val_margin)


def threshold_line(threshold: float, held_out_micrographs: bool) -> str:
    """The log line that states the stored default threshold and why."""
    if threshold == 0.0 and not held_out_micrographs:
        why = (" (keep every pick: with one training micrograph the network cannot be checked on a"
               " micrograph it has not seen; clean a second one, or choose --threshold from the score"
               " histogram of unpicker_eval.py)")
    elif threshold == 0.0:
        why = (" (keep every pick: on the validation micrographs removing picks is not expected"
               f" to gain {MIN_F1_GAIN} F1; --threshold overrides)")
    elif threshold == 0.5:
        why = ""
    else:
        why = " (maximises F1 of the kept picks on the validation micrographs)"
    return f"Default threshold for unpicker_eval.py: {threshold:.3f}{why}"


def write_ensemble(output: str | Path, members: list[tuple[str, TrainResult]], val_y: np.ndarray,
                   settings: Preprocessing, config: TrainConfig, extra_info: dict | None = None,
                   out=sys.stdout, held_out_micrographs: bool = True) -> float:
    """Write the ensemble model file ``output`` over members already trained
    on the same boxes: ``members`` are (model file name, beside ``output``;
    its training result). The threshold is chosen, by the rule of a single
    network, on the mean of the members' calibrated validation logits.
    Returns the threshold."""
    output = Path(output)
    prob = 1.0 / (1.0 + np.exp(-np.mean([r.validation_margin for _, r in members], axis=0)))
    error = _error_pct(prob, val_y)
    threshold = default_threshold(prob, val_y, held_out_micrographs)
    write_model_info(output, ModelInfo(config.network, settings, config.augmentation, threshold, 0, error,
                                       0.0, {**(extra_info or {}), "tta": config.tta},
                                       [name for name, _ in members]))
    print(f"Ensemble validation error: {error:.1f}%", file=out)
    print(f"Trained model saved in file {output} (the mean of {', '.join(n for n, _ in members)})", file=out)
    print(threshold_line(threshold, held_out_micrographs or not len(val_y)), file=out)
    return threshold
