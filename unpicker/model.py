"""The networks (Keras 3; backend-neutral layers only).

Both take (batch, resized_px, resized_px, 1) standardised boxes and return two
logits, (non-particle, particle); the particle probability is the softmax's
second entry.

- ``seed``: the original emUnpicker network, kept as the reference: conv 5x5x32,
  max-pool, conv 5x5x64, max-pool, dense 512 with dropout 0.5, 2 outputs, L2
  5e-4 (on the TF1 ``l2_loss`` scale, i.e. 2.5e-4 on the sum of squares) on
  the dense layers. Trained with momentum 0.9, learning rate 0.01 decayed by
  0.95 per epoch, batch 64.
- ``resnet``: a small residual CNN — a 3x3 stem, three residual
  stages (24, 48, 96 channels, each halving the size), batch normalisation,
  a dense head (128 units) on the final 4x4 map, which keeps positions (most
  wrong picks on real data sit beside a particle), dropout; trained with
  AdamW and cosine decay on dihedral-augmented boxes; 0.37 M parameters (the
  seed net has 2.2 M, mostly in its dense layer). Chosen on bench/accuracy.py
  (BENCHMARKS.md). Its layers are named (``stage2_a_conv``, ``stage2_a_bn``)
  so that ``inference_network`` can pair each convolution with its
  normalisation; Keras matches weight files by layer order and type, not by
  these names, so files saved before the names were given still load.
- ``resnet+seed`` (the default, built by train.py): both, trained side by
  side on the same batches; the ensemble's logit is the mean of theirs, each
  network classifying half of the test-time views (``member_views``).
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

NETWORKS = ("resnet", "seed")


def _seed(size: int, dtype: str | None = None) -> keras.Model:
    l2 = keras.regularizers.L2(2.5e-4)
    d = {"dtype": dtype}
    inputs = keras.Input((size, size, 1))
    x = layers.Conv2D(32, 5, padding="same", activation="relu", **d)(inputs)
    x = layers.MaxPooling2D(2, padding="same", **d)(x)
    x = layers.Conv2D(64, 5, padding="same", activation="relu", **d)(x)
    x = layers.MaxPooling2D(2, padding="same", **d)(x)
    x = layers.Flatten(**d)(x)
    x = layers.Dense(512, activation="relu", kernel_regularizer=l2, bias_regularizer=l2, **d)(x)
    x = layers.Dropout(0.5, **d)(x)
    outputs = layers.Dense(2, kernel_regularizer=l2, bias_regularizer=l2, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="seed")


def _conv_bn(x, channels: int, kernel: int, name: str, folded: bool, strides: int = 1, dtype: str | None = None):
    """Convolution then batch normalisation, or (``folded``) one convolution
    with a bias that does both at inference (see ``inference_network``)."""
    padding = "valid" if kernel == 1 else "same"
    x = layers.Conv2D(channels, kernel, strides=strides, padding=padding, use_bias=folded, name=f"{name}_conv",
                      dtype=dtype)(x)
    return x if folded else layers.BatchNormalization(momentum=0.9, name=f"{name}_bn", dtype=dtype)(x)


def _residual_stage(x, channels: int, name: str, folded: bool, dtype: str | None):
    shortcut = _conv_bn(x, channels, 1, f"{name}_shortcut", folded, strides=2, dtype=dtype)
    y = _conv_bn(x, channels, 3, f"{name}_a", folded, strides=2, dtype=dtype)
    y = layers.ReLU(name=f"{name}_a_relu", dtype=dtype)(y)
    y = _conv_bn(y, channels, 3, f"{name}_b", folded, dtype=dtype)
    return layers.ReLU(name=f"{name}_relu", dtype=dtype)(layers.Add(name=f"{name}_add", dtype=dtype)([shortcut, y]))


def _resnet(size: int, width: int = 24, folded: bool = False, dtype: str | None = None) -> keras.Model:
    """``dtype``: a Keras dtype policy for every layer but the logits (which
    stay float32); None: the global policy."""
    inputs = keras.Input((size, size, 1))
    x = _conv_bn(inputs, width, 3, "stem", folded, dtype=dtype)
    x = layers.ReLU(name="stem_relu", dtype=dtype)(x)
    for i, channels in enumerate((width, 2 * width, 4 * width), 1):
        x = _residual_stage(x, channels, f"stage{i}", folded, dtype)
    # Keep where the features are (a 4x4 map at 32 px): a pick beside a
    # particle differs from one on its centre mainly in position, which
    # global average pooling would discard.
    x = layers.Flatten(name="flatten", dtype=dtype)(x)
    x = layers.Dropout(0.3, name="head_dropout", dtype=dtype)(x)
    x = layers.Dense(128, activation="relu", name="head", dtype=dtype)(x)
    x = layers.Dropout(0.3, name="logits_dropout", dtype=dtype)(x)
    outputs = layers.Dense(2, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name="resnet")


# Numeric precision of the network at evaluation. bfloat16 keeps float32's
# range with an 8-bit mantissa: on CPUs with bfloat16 dot-product
# instructions (x86 AVX512_BF16 or AMX) the network runs about 1.8x faster,
# and the logits move by about 1% (BENCHMARKS.md); elsewhere it would be
# emulated, so ``auto`` uses it only where the CPU has them.
INFERENCE_PRECISIONS = ("auto", "float32", "bfloat16")


def cpu_has_bfloat16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bfloat16 dot products natively (Linux: the
    ``avx512_bf16`` or ``amx_bf16`` flag in /proc/cpuinfo; other systems:
    False). ``cpuinfo``: the text to read instead of /proc/cpuinfo."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


def resolve_precision(precision: str) -> str:
    """``auto`` → ``bfloat16`` when TensorFlow runs the network on a CPU with
    native bfloat16 (:func:`cpu_has_bfloat16`), else ``float32``; other values
    as given. A GPU gets float32 (its network time is already small); so do
    the other backends (JAX on this CPU: no faster in bfloat16; BENCHMARKS.md).
    Training's ``auto`` is the same rule
    (:func:`unpicker.train.resolve_training_precision`)."""
    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(INFERENCE_PRECISIONS)}, not {precision!r}")
    if precision != "auto":
        return precision
    # TensorFlow's fast bfloat16 kernels are oneDNN's; without them (the user
    # set TF_ENABLE_ONEDNN_OPTS=0) bfloat16 ran 10% slower than float32 here
    onednn_off = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() in ("0", "false")
    if keras.backend.backend() != "tensorflow" or onednn_off or not cpu_has_bfloat16():
        return "float32"
    from .train import gpu_present

    return "float32" if gpu_present() else "bfloat16"


def inference_network(model: keras.Model, precision: str = "float32") -> keras.Model:
    """A network that computes the same logits as ``model`` at inference, faster.

    For ``resnet``, each batch normalisation is folded into the convolution
    before it: with running mean m, variance v, scale g, offset b and epsilon
    e, the kernel is multiplied by s = g / sqrt(v + e) per output channel and
    the convolution gains the bias b - m * s. That removes a pass over every
    feature map (about a fifth of the network's time on a CPU; BENCHMARKS.md)
    and leaves the scores equal to float32 rounding.
    ``precision`` ``"bfloat16"``: every layer but the logits computes and
    keeps its weights in bfloat16 (see ``INFERENCE_PRECISIONS``); ``"float32"``: a
    ``seed`` network is returned unchanged. For prediction only, not training.
    """
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be float32 or bfloat16, not {precision!r}")
    size = model.input.shape[1]
    if model.name == "seed":
        if precision == "float32":
            return model
        fast = _seed(size, dtype=precision)
        fast.set_weights(model.get_weights())
        return fast
    if model.name != "resnet":
        return model
    stem = model.get_layer("stem_conv")
    folded = _resnet(size, width=stem.filters, folded=True, dtype=precision)
    for layer in folded.layers:
        if isinstance(layer, layers.Conv2D):
            (kernel,) = model.get_layer(layer.name).get_weights()
            bn = model.get_layer(layer.name[:-len("_conv")] + "_bn")
            gamma, beta, mean, var = (np.asarray(w, np.float64) for w in bn.get_weights())
            scale = gamma / np.sqrt(var + bn.epsilon)
            layer.set_weights([(kernel * scale).astype(np.float32), (beta - mean * scale).astype(np.float32)])
        elif layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return folded


def build_network(name: str, resized_px: int) -> keras.Model:
    if name == "seed":
        return _seed(resized_px)
    if name == "resnet":
        return _resnet(resized_px)
    raise ValueError(f"unknown network {name!r} (choose from {', '.join(NETWORKS)})")


def particle_probability(model: keras.Model, boxes, batch_size: int = 1024, logit_shift: float = 0.0,
                         symmetries: int | Sequence[int] = 1, pad_to: int | None = None):
    """P(particle) for (n, s, s) or (n, s, s, 1) boxes, as a numpy float32
    array: the sigmoid of :func:`particle_margin` (same arguments)."""
    margin = particle_margin(model, boxes, batch_size, logit_shift, symmetries, pad_to)
    return (1.0 / (1.0 + np.exp(-margin))).astype(np.float32)


def particle_margin(model: keras.Model, boxes, batch_size: int = 1024, logit_shift: float = 0.0,
                    symmetries: int | Sequence[int] = 1, pad_to: int | None = None) -> np.ndarray:
    """The particle-vs-non-particle logit (float64) of (n, s, s) or (n, s, s, 1) boxes.

    ``logit_shift`` is added to it: training with class weights shifts it by
    log(n_N / n_P), and the model file stores the shift that undoes this, so
    the sigmoid of the result is the probability under the class balance the
    user's picks had (and an ensemble can average calibrated logits).
    ``symmetries`` (1, 4 or 8) averages the logit over the first elements of
    the dihedral group (test-time augmentation); a sequence names the
    elements (``boxes.dihedral``'s k) to average over instead.
    ``pad_to``: every batch is padded (with zeros, whose outputs are dropped)
    to a multiple of this size. JAX and PyTorch compile once per batch shape,
    so micrographs with different numbers of picks then share a few compiled
    shapes; TensorFlow relaxes the shape itself. Default: 128 on JAX and
    PyTorch, no padding on TensorFlow.
    """
    from .boxes import dihedral

    boxes = np.asarray(boxes, np.float32)
    if boxes.ndim == 3:
        boxes = boxes[..., None]
    if len(boxes) == 0:
        return np.zeros(0)
    # all views in one stack, classified in large batches (fewer, fuller calls)
    n = len(boxes)
    elements = range(symmetries) if isinstance(symmetries, int) else list(symmetries)
    views = np.concatenate([boxes if k == 0 else dihedral(boxes[..., 0], k)[..., None] for k in elements])
    calls = -(-len(views) // batch_size)
    step = -(-len(views) // calls)                  # equal batches: 1200 views as 2 x 600
    if pad_to is None:
        pad_to = 0 if keras.backend.backend() == "tensorflow" else 128
    if pad_to:
        step = -(-step // pad_to) * pad_to
    margin = np.empty(len(views))
    for i in range(0, len(views), step):
        chunk = views[i:i + step]
        n_chunk = len(chunk)
        if pad_to and n_chunk < step:
            chunk = np.concatenate([chunk, np.zeros((step - n_chunk,) + chunk.shape[1:], chunk.dtype)])
        logits = np.asarray(model.predict_on_batch(chunk), np.float64)[:n_chunk]
        margin[i:i + n_chunk] = logits[:, 1] - logits[:, 0]
    return margin.reshape(len(elements), n).mean(axis=0) + logit_shift


def ensemble_margin(networks: list[tuple[keras.Model, float, Sequence[int]]], boxes) -> np.ndarray:
    """The calibrated logit of an ensemble: the mean of its networks' logits,
    each averaged over its own views. ``networks``: (model, logit_shift,
    views) triples; views as ``particle_margin``'s ``symmetries``."""
    return np.mean([particle_margin(m, boxes, logit_shift=shift, symmetries=views)
                    for m, shift, views in networks], axis=0)


def ensemble_probability(networks: list[tuple[keras.Model, float, Sequence[int]]], boxes) -> np.ndarray:
    """P(particle) of an ensemble: the sigmoid of :func:`ensemble_margin`."""
    return (1.0 / (1.0 + np.exp(-ensemble_margin(networks, boxes)))).astype(np.float32)
