"""The networks, and their faster inference versions (unpicker/networks/architectures.py)."""
from __future__ import annotations

import numpy as np
import pytest


def test_inference_network_folds_batch_norm_and_keeps_the_logits():
    import keras
    from unpicker.networks.architectures import build_network, inference_network

    model = build_network("resnet", 16)
    rng = np.random.default_rng(6)
    for layer in model.layers:      # statistics far from the initial ones, as after training
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, c), rng.normal(0, 0.5, c), rng.normal(0, 0.5, c),
                               rng.uniform(0.2, 3, c)])
    fast = inference_network(model)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in fast.layers)
    assert fast.count_params() < model.count_params()
    boxes = rng.normal(size=(20, 16, 16, 1)).astype(np.float32)
    expected = np.asarray(model.predict_on_batch(boxes))
    assert np.ptp(expected) > 1                                   # the check below means something
    np.testing.assert_allclose(np.asarray(fast.predict_on_batch(boxes)), expected, rtol=1e-4, atol=1e-4)
    seed = build_network("seed", 16)
    assert inference_network(seed) is seed


def test_bfloat16_inference_network_keeps_the_logits_close():
    from unpicker.networks.architectures import build_network, inference_network

    rng = np.random.default_rng(7)
    boxes = rng.normal(size=(64, 16, 16, 1)).astype(np.float32)
    for name in ("resnet", "seed"):
        model = build_network(name, 16)
        fast = inference_network(model, "bfloat16")
        policies = {layer.name: layer.dtype_policy.name for layer in fast.layers if layer.weights}
        assert policies.pop("logits" if name == "resnet" else fast.layers[-1].name) == "float32"
        assert set(policies.values()) == {"bfloat16"}
        full = np.asarray(inference_network(model).predict_on_batch(boxes), np.float64)
        half = np.asarray(fast.predict_on_batch(boxes), np.float64)
        assert half.dtype == np.float64 and np.isfinite(half).all()
        margin_full, margin_half = full[:, 1] - full[:, 0], half[:, 1] - half[:, 0]
        assert np.ptp(margin_full) > 0.05                           # the comparison means something
        # bfloat16 keeps 8 bits of mantissa: about 1% of the logits' scale
        assert np.abs(margin_half - margin_full).max() < 0.05 * np.abs(margin_full).max() + 1e-3
        assert np.corrcoef(margin_full, margin_half)[0, 1] > 0.99
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        inference_network(model, "float16")
