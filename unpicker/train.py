"""Training the network on extracted boxes (TensorFlow/Keras lives here and in model.py).

An epoch is, as in the original, one pass over the training boxes under each
of the four 90° rotations (4 x boxes samples). With the ``d8`` augmentation
each sample gets a random element of the dihedral group instead of a fixed
rotation; ``rot4`` uses the four rotations; ``none`` the boxes as they are.
Each sample is also shifted by a random whole number of pixels, up to
``shift_px`` along each axis (by default a sixteenth of the box: 2 pixels of
a 32-pixel box), as autopickers centre particles only roughly.
Classes are balanced by weighting each sample by the inverse frequency of its
class among the user's picks, so every removed pick is used once and neither
class dominates; boxes beside particles, when asked for, weigh on top of the
user's removals rather than diluting them (:func:`loss_weights`).
"""
from __future__ import annotations

import csv
import functools
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .boxes import GROUP_SIZES, default_shift_px, dihedral, shift_boxes
from .modelfile import ModelInfo, weights_path, write_model_info
from .preprocess import Preprocessing
from .threshold import CALIBRATED_RULES, best_f1, default_threshold, default_threshold_rule, threshold_line

ROTATIONS_PER_EPOCH = 4
LOG_EVERY = 100
DEFAULT_BATCH = {"seed": 64, "resnet": 128}
DEFAULT_LEARNING_RATE = {"seed": 0.01, "resnet": 2e-3}
# The most steps an ensemble trains for unless --max_steps says otherwise.
# Every benchmark set trains for fewer (350-2,250 steps at 25 epochs); at
# the original example's size (25 epochs, 5,299 steps of 128) the cap keeps
# both networks within the 10-minute budget on 2 CPU cores (BENCHMARKS.md).
ENSEMBLE_MAX_STEPS = 2500
# Epochs unless --num_epochs says otherwise: the original's 15 for one
# network; 25 for an ensemble, which (with the shifted boxes) ranked every
# benchmark run's picks better than 15 did (BENCHMARKS.md). Large training
# sets reach the step cap at 15 epochs already, so take no longer.
ORIGINAL_EPOCHS = 15
ENSEMBLE_EPOCHS = 25


@dataclass
class TrainConfig:
    network: str = "resnet+seed"          # one network, or several joined by "+" (an ensemble)
    num_epochs: int | None = None         # None: ENSEMBLE_EPOCHS for an ensemble, ORIGINAL_EPOCHS for one network
    batch_size: int | None = None         # None: 64 for seed, 128 for resnet and ensembles
    learning_rate: float | None = None    # None: 0.01 for seed, 0.002 for resnet
    max_steps: int | None = None          # None: ENSEMBLE_MAX_STEPS for an ensemble, no cap for one network; 0: none
    augmentation: str = "d8"
    shift_px: int | None = None           # None: default_shift_px(resized box); 0: no shifts
    seed: int = 66478
    num_cores: int = 4
    log_every: int = LOG_EVERY
    tta: int = 4                          # symmetries averaged at validation and evaluation
    precision: str = "float32"            # or "mixed", "bfloat16" (see configure_backend)


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
    threshold_rule: str = ""     # which rule of default_threshold_rule set the threshold (a passed-in one: as the caller says)
    capped: bool = False         # whether the step cap stopped training before its epochs were done


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


# --precision's choices and the Keras dtype policy each sets
_POLICIES = {"float32": "float32", "mixed": "mixed_float16", "bfloat16": "mixed_bfloat16"}
PRECISIONS = tuple(_POLICIES)
TRAINING_PRECISIONS = ("auto", *PRECISIONS)   # unpicker_train.py --precision's choices


def resolve_training_precision(precision: str) -> str:
    """``auto`` → the arithmetic evaluation's ``auto`` chooses
    (:func:`unpicker.model.resolve_precision`): ``bfloat16`` when TensorFlow
    trains on a CPU with native bfloat16 instructions (AVX512_BF16 or AMX) and
    no GPU, else ``float32``. On an Intel Xeon with AMX bfloat16 trained 1.3x
    as fast, with F1 within the seeds' spread of float32's on all five
    benchmark sets (BENCHMARKS.md, "Training"). Other values of
    :data:`PRECISIONS` as given."""
    if precision == "auto":
        from .model import resolve_precision

        return resolve_precision("auto")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be auto or one of {', '.join(PRECISIONS)}, not {precision!r}")
    return precision


def configure_backend(num_cores: int, seed: int | None, precision: str = "float32") -> None:
    """Threads (TensorFlow), determinism, and the numeric precision; call
    before building a model. ``mixed`` computes in float16 with float32
    weights; it is not the default even on a GPU, where these small networks
    trained slower with it (BENCHMARKS.md, "On a GPU"). ``bfloat16`` computes
    in bfloat16 with float32 weights, for CPUs with bfloat16 instructions
    (BENCHMARKS.md, "Training")."""
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
    keras.mixed_precision.set_global_policy(_POLICIES[precision])
    if seed is not None:
        keras.utils.set_random_seed(seed)


def _compile(model, network: str, learning_rate: float | None, steps_per_epoch: int, total_steps: int):
    """Compile ``model`` with its network's optimiser; returns the learning-rate
    schedule (a function of the optimiser's update count)."""
    import keras

    if network == "seed":
        lr = keras.optimizers.schedules.ExponentialDecay(
            learning_rate or DEFAULT_LEARNING_RATE["seed"], decay_steps=max(steps_per_epoch, 1),
            decay_rate=0.95, staircase=True)
        optimizer = keras.optimizers.SGD(lr, momentum=0.9)
    else:
        peak = learning_rate or DEFAULT_LEARNING_RATE[network]
        warmup = min(200, total_steps // 10)
        lr = keras.optimizers.schedules.CosineDecay(
            peak / 10, decay_steps=max(total_steps - warmup, 1), alpha=0.02,
            warmup_target=peak, warmup_steps=warmup)
        optimizer = keras.optimizers.AdamW(lr, weight_decay=1e-4)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return lr


def network_names(network: str) -> list[str]:
    """The networks of ``--network``: ``"resnet+seed"`` gives both."""
    from .model import NETWORKS

    names = network.split("+")
    unknown = [n for n in names if n not in NETWORKS]
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"unknown network {network!r} (choose from {', '.join(NETWORKS)}, "
                         "or several of them joined by +)")
    return names


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


def planned_steps(n_train: int, config: TrainConfig) -> tuple[int, int]:
    """(steps training runs for, steps its epochs take) for ``n_train``
    boxes: the first is the second cut to the step cap."""
    batch = min(config.batch_size or max(DEFAULT_BATCH[n] for n in network_names(config.network)), n_train)
    epochs_steps = max(train_epochs(config) * ROTATIONS_PER_EPOCH * n_train // batch, 1)
    cap = step_cap(config)
    return (min(epochs_steps, cap) if cap else epochs_steps), epochs_steps


@dataclass
class _Network:
    """One network being trained, alone or as an ensemble's member."""
    name: str
    model: object
    batch: int                 # boxes per optimiser update; a step may hold several
    schedule: object           # learning rate as a function of the update count
    updates_per_step: int
    views: tuple[int, ...]     # the test-time views it classifies


def _sigmoid(margin: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-margin))


def _error_pct(prob: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> float:
    return 100.0 * float(np.mean((prob >= threshold) != labels)) if len(labels) else float("nan")


def refit_skipped(threshold_rule: str, capped: bool) -> str | None:
    """Why no refit on every training micrograph follows a validated training
    whose threshold ``threshold_rule`` chose and which the step cap cut short
    or not (``capped``); None: one does. Both are a ``TrainResult``'s fields
    and are stored in its model file.

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


def _keeps_dtype_policy(fn):
    """Run ``fn`` and put back the Keras dtype policy it found: a training
    sets its precision's policy (:func:`configure_backend`) for its own
    networks only, not for models built after it in the same process."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import keras

        policy = keras.mixed_precision.dtype_policy()
        try:
            return fn(*args, **kwargs)
        finally:
            keras.mixed_precision.set_global_policy(policy)
    return wrapper


def loss_weights(is_particle: np.ndarray, beside: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Per-box loss weights with a mean of 1, and the logit shift that
    restores the odds of a particle among the user's picks.

    The user's particles and non-particles weigh the same in total, so the
    network learns even odds for boxes like the user's picks, and adding the
    shift (log of the particles' odds among the user's picks) to its logit
    makes its scores the share of particles that it predicts among new
    picks. Boxes ``beside`` particles (non-particles, not user picks) each
    weigh as much as one of the user's non-particles, on top of them: they
    teach what lies beside a particle without diluting the user's own
    removals. (Counted among the non-particles instead, as until 2026-11-28,
    they made the scores of new picks overconfident; BENCHMARKS.md.)
    """
    is_particle = np.asarray(is_particle, bool)
    beside = np.zeros(len(is_particle), bool) if beside is None else np.asarray(beside, bool)
    if beside.shape != is_particle.shape or (beside & is_particle).any():
        raise ValueError("the boxes beside particles must be a mask of non-particles the shape of the labels")
    n_pos = max(int(is_particle.sum()), 1)
    n_neg = max(int((~is_particle & ~beside).sum()), 1)
    n_user = n_pos + n_neg
    weight = np.where(is_particle, n_user / (2 * n_pos), n_user / (2 * n_neg))
    return (weight * (len(weight) / weight.sum())).astype(np.float32), float(np.log(n_pos / n_neg))


@_keeps_dtype_policy
def train_model(
    train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray,
    settings: Preprocessing, config: TrainConfig, output: str | Path,
    extra_info: dict | None = None, out=sys.stdout, progress: bool = True,
    held_out_micrographs: bool = True, train_beside: np.ndarray | None = None,
    log: bool = True, threshold: float | None = None, threshold_rule: str = "given",
    final_checkpoint: bool = False,
) -> TrainResult:
    """Train, logging and checkpointing every ``config.log_every`` steps.

    An ensemble's networks (``config.network`` ``"resnet+seed"``) are trained
    side by side: each step draws one batch, which every network learns from
    with its own optimiser (in chunks of its own batch size), so the logged
    errors and every checkpoint are those of the ensemble.

    Args:
        train_x, val_x: (n, s, s) float32 normalised boxes (not augmented).
        train_y, val_y: (n,) bool, True for particles.
        output: the model file; checkpoints are ``output-STEP``.
        held_out_micrographs: whether the validation boxes come from
            micrographs not trained on. When not (a single training
            micrograph), the stored default threshold keeps every pick.
        train_beside: (n,) bool, True for the training boxes that are not
            user picks but boxes beside particles (non-particles); they are
            weighted on top of the user's picks (:func:`loss_weights`).
        log: the original's log lines, a checkpoint every ``config.log_every``
            steps, the CSV and the plot; without it (a refit), only the
            progress bar and the final model.
        threshold: the default threshold to store (default: chosen on the
            validation boxes, :func:`default_threshold_rule`).
        threshold_rule: the rule that chose a given ``threshold`` (a refit
            passes the validated training's).
        final_checkpoint: also save the final model as ``output-STEP``, the
            name the lowest-validation-error line then gives it (so that it
            outlives a refit into ``output``).
    Writes ``output`` (+ weights), the checkpoints, ``output.log.csv`` and
    ``output.png``; returns the figures.
    """
    from tqdm import tqdm

    from .boxes import member_views
    from .files import atomic_output
    from .model import build_network, ensemble_margin

    output = Path(output)
    names = network_names(config.network)
    ensemble = len(names) > 1
    extra_info = {**(extra_info or {}), "tta": config.tta, **({"views": "shared"} if ensemble else {})}
    t_start = time.perf_counter()
    n_train = len(train_x)
    if n_train < 2:
        raise ValueError("need at least two training boxes")
    configure_backend(config.num_cores, config.seed, config.precision)
    batch = min(config.batch_size or max(DEFAULT_BATCH[n] for n in names), n_train)
    samples_per_epoch = ROTATIONS_PER_EPOCH * n_train
    steps_per_epoch = max(samples_per_epoch // batch, 1)
    epochs = train_epochs(config)
    total_steps, epochs_steps = planned_steps(n_train, config)
    if total_steps < epochs_steps:
        why = "the default for an ensemble" if config.max_steps is None else "as asked"
        print(f"Training {total_steps} steps ({total_steps * batch / samples_per_epoch:.1f} epochs) of the "
              f"{epochs_steps} that {epochs} epochs take: at most {total_steps} steps, {why} (--max_steps; "
              "0 trains every epoch)", file=out)
    nets = []
    for i, name in enumerate(names):
        own_batch = min(config.batch_size or DEFAULT_BATCH[name], batch)
        updates = -(-batch // own_batch)
        model = build_network(name, settings.resized_px)
        schedule = _compile(model, name, config.learning_rate, steps_per_epoch * updates, total_steps * updates)
        nets.append(_Network(name, model, own_batch, schedule, updates, member_views(config.tta, i, len(names))))
    if ensemble and log:
        print(f"Networks: {' and '.join(names)}, each learning from every batch; each classifies "
              f"{len(nets[0].views)} of the {config.tta} test-time views; the learning rate logged is "
              f"{names[0]}'s", file=out)
    rng = np.random.default_rng(config.seed)

    labels = train_y.astype(np.int64)
    sample_weight, logit_shift = loss_weights(train_y.astype(bool), train_beside)
    group = GROUP_SIZES[config.augmentation]
    shift = default_shift_px(settings.resized_px) if config.shift_px is None else config.shift_px

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

    def margin(x: np.ndarray, all_views: bool = True) -> np.ndarray:
        """The calibrated logit: the mean over the networks, each on its views
        (or on the boxes as they are)."""
        return ensemble_margin([(n.model, logit_shift, n.views if all_views else (0,)) for n in nets], x)

    log_path = Path(str(output) + ".log.csv")
    fields = ["step", "epoch", "loss", "minibatch_error", "validation_error", "learning_rate"]
    history: list[dict] = []
    best = (math.inf, -1, output)

    def save(path: Path, step: int, val_error: float, threshold: float) -> None:
        members = []
        for n in nets:
            weights = weights_path(path, n.name if ensemble else None)
            tmp = atomic_output(weights)
            n.model.save_weights(tmp)
            os.replace(tmp, weights)
            members.append({"network": n.name, "weights": weights.name, "logit_shift": logit_shift})
        write_model_info(path, ModelInfo(config.network, settings, config.augmentation, threshold, step,
                                         None if math.isnan(val_error) else val_error, logit_shift, dict(extra_info),
                                         members if ensemble else []))

    def validate() -> tuple[float, np.ndarray]:
        """The validation error (%) and the validation boxes' probabilities."""
        if len(val_x) == 0:
            return float("nan"), np.zeros(0, np.float32)
        prob = _sigmoid(margin(val_x))
        return _error_pct(prob, val_y), prob

    if log:
        print("Initialized!", file=out, flush=True)
    order, slots = epoch_order()
    pos = 0
    bar = tqdm(total=total_steps, desc="Training" if log else "Refitting", unit="step", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    with open(log_path if log else os.devnull, "w", newline="") as log_file:
        writer = csv.DictWriter(log_file, fieldnames=fields)
        writer.writeheader()
        for step in range(total_steps):
            if pos + batch > len(order):
                order, slots = epoch_order()
                pos = 0
            idx, slot = order[pos:pos + batch], slots[pos:pos + batch]
            pos += batch
            xb = dihedral(train_x[idx], transforms(slot))
            if shift:
                xb = shift_boxes(xb, rng.integers(-shift, shift + 1, size=(len(xb), 2)))
            xb = xb[..., None]
            yb = labels[idx]
            logging_step = log and step % config.log_every == 0
            if logging_step:
                mb_error = _error_pct(_sigmoid(margin(xb, all_views=False)), yb.astype(bool))
            losses = []
            for n in nets:
                chunk_losses = [np.asarray(n.model.train_on_batch(
                    xb[j:j + n.batch], yb[j:j + n.batch], sample_weight=sample_weight[idx[j:j + n.batch]]))
                    for j in range(0, batch, n.batch)]
                losses.append(float(np.mean(chunk_losses)))
            loss = float(np.mean(losses))
            bar.update(1)
            if logging_step:
                val_error, val_prob = validate()
                lr = float(nets[0].schedule(step * nets[0].updates_per_step))
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

    final_error, prob = validate()
    if threshold is None:
        threshold, threshold_rule = default_threshold_rule(prob, val_y, held_out_micrographs)
    capped = total_steps < epochs_steps
    # stored so that the model file says what refit_skipped decides by
    extra_info = {**extra_info, "threshold_rule": threshold_rule, "capped": capped}
    if not log:
        save(output, total_steps, final_error, threshold)
        return TrainResult(final_error, -1, math.inf, output, threshold, history,
                           time.perf_counter() - t_start, total_steps, threshold_rule, capped)
    print(f"Training completed, final validation error: {final_error:.1f}%", file=out)
    save(output, total_steps, final_error, threshold)
    print(f"Trained model saved in file {output}", file=out)
    final_name = output
    if final_checkpoint:
        final_name = Path(f"{output}-{total_steps}")
        save(final_name, total_steps, final_error, threshold)
    if final_error < best[0]:   # the final model competes with the checkpoints
        best = (final_error, total_steps, final_name)
    if best[1] >= 0:
        print(f"Lowest validation error: {best[0]:.1f}% at step {best[1]} (model {best[2]})", file=out)
    print(threshold_line(threshold, threshold_rule, best_f1(prob, val_y) if len(val_y) else None), file=out)
    try:
        _plot(history, Path(str(output) + ".png"))
    except Exception as e:  # a plot is a convenience; never fail training for it
        print(f"Could not draw the training plot: {e}", file=sys.stderr)
    seconds = time.perf_counter() - t_start
    return TrainResult(final_error, best[1], best[0], best[2], threshold, history, seconds, total_steps,
                       threshold_rule, capped)
