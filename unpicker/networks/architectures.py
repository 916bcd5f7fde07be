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
  seed net has 2.2 M, mostly in its dense layer). Its layers are named
  (``stage2_a_conv``, ``stage2_a_bn``) so that :func:`inference_network` can
  pair each convolution with its normalisation.
- ``resnet+seed`` (the default): both, trained side by side on the same
  batches; the ensemble's logit is the mean of theirs, each network
  classifying half of the test-time views (:func:`.scoring.member_views`).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers

from . import NETWORKS


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


def inference_network(model: keras.Model, precision: str = "float32") -> keras.Model:
    """A network that computes the same logits as ``model`` at inference, faster.

    For ``resnet``, each batch normalisation is folded into the convolution
    before it: with running mean m, variance v, scale g, offset b and epsilon
    e, the kernel is multiplied by s = g / sqrt(v + e) per output channel and
    the convolution gains the bias b - m * s. That removes a pass over every
    feature map (about a fifth of the network's time on a CPU; BENCHMARKS.md)
    and leaves the scores equal to float32 rounding.
    ``precision`` ``"bfloat16"``: every layer but the logits computes and
    keeps its weights in bfloat16 (see :data:`.backend.PRECISIONS`);
    ``"float32"``: a ``seed`` network is returned unchanged. For prediction
    only, not training.
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
