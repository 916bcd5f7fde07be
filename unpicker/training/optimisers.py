"""Each network's optimiser and learning-rate schedule (Keras).

- ``seed``, as the original: SGD with momentum 0.9, the learning rate
  (0.01) decayed by 0.95 per epoch.
- ``resnet``: AdamW (weight decay 1e-4), a linear warm-up from a tenth of
  the peak learning rate (0.002) over the first tenth of training (at most
  200 updates), then cosine decay to 2% of it.
"""
from __future__ import annotations

from .plan import DEFAULT_LEARNING_RATE


def compile_network(model, network: str, learning_rate: float | None, updates_per_epoch: int,
                    total_updates: int):
    """Compile ``model`` with its network's optimiser and a cross-entropy loss
    on its two logits; returns the learning-rate schedule (a function of the
    optimiser's update count). ``learning_rate``: None for the network's default."""
    import keras

    if network == "seed":
        lr = keras.optimizers.schedules.ExponentialDecay(
            learning_rate or DEFAULT_LEARNING_RATE["seed"], decay_steps=max(updates_per_epoch, 1),
            decay_rate=0.95, staircase=True)
        optimizer = keras.optimizers.SGD(lr, momentum=0.9)
    else:
        peak = learning_rate or DEFAULT_LEARNING_RATE[network]
        warmup = min(200, total_updates // 10)
        lr = keras.optimizers.schedules.CosineDecay(
            peak / 10, decay_steps=max(total_updates - warmup, 1), alpha=0.02,
            warmup_target=peak, warmup_steps=warmup)
        optimizer = keras.optimizers.AdamW(lr, weight_decay=1e-4)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return lr
