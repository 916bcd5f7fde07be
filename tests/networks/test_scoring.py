"""Scoring boxes: test-time views, batches, ensembles, calibration (unpicker/networks/scoring.py)."""
from __future__ import annotations

import numpy as np


def test_member_views_deal_the_views_out_in_turn():
    from unpicker.networks.scoring import member_views

    assert member_views(4, 0, 2) == (0, 2) and member_views(4, 1, 2) == (1, 3)
    assert member_views(8, 1, 2) == (1, 3, 5, 7)
    assert member_views(1, 1, 2) == (0,)                  # fewer views than networks: each sees them all
    assert member_views(4, 0, 1) == (0, 1, 2, 3)


def test_ensemble_margin_averages_each_networks_own_views():
    import keras
    from unpicker.networks.scoring import ensemble_margin, particle_margin

    # the particle logit is the mean of the box's top row; 180 degrees turns
    # the bottom row to the top, 90 and 270 degrees the side columns
    inputs = keras.Input((5, 5, 1))
    top = keras.layers.Lambda(lambda x: keras.ops.mean(x[:, 0, :, 0], axis=1, keepdims=True))(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([keras.ops.zeros_like(top), top]))
    boxes = np.random.default_rng(6).normal(size=(7, 5, 5)).astype(np.float32)
    rows = (boxes[:, 0, :].mean(1) + boxes[:, -1, :].mean(1)) / 2
    columns = (boxes[:, :, 0].mean(1) + boxes[:, :, -1].mean(1)) / 2
    np.testing.assert_allclose(particle_margin(model, boxes, symmetries=(0, 2)), rows, rtol=1e-5)
    np.testing.assert_allclose(particle_margin(model, boxes, symmetries=(1, 3)), columns, rtol=1e-5)
    np.testing.assert_allclose(ensemble_margin([(model, 0.0, (0, 2)), (model, 1.0, (1, 3))], boxes),
                               (rows + columns + 1.0) / 2, rtol=1e-5)


def test_logit_shift_undoes_class_weighting():
    import keras
    from unpicker.networks.scoring import particle_margin, sigmoid

    inputs = keras.Input((2, 2, 1))
    logits = keras.layers.Lambda(lambda x: keras.ops.zeros((keras.ops.shape(x)[0], 2)))(inputs)
    model = keras.Model(inputs, logits)
    boxes = np.zeros((3, 2, 2), np.float32)
    np.testing.assert_allclose(sigmoid(particle_margin(model, boxes)), 0.5)
    # 80 % particles: an indifferent weighted model means P = 0.8
    np.testing.assert_allclose(sigmoid(particle_margin(model, boxes, logit_shift=np.log(4.0))), 0.8, rtol=1e-6)


def test_test_time_averaging_averages_the_logit_over_the_rotations():
    import keras
    from unpicker.networks.scoring import particle_margin, sigmoid

    # a "network" whose particle logit is the mean of the box's top row: over
    # the four 90-degree rotations that averages the four edges
    inputs = keras.Input((5, 5, 1))
    top = keras.layers.Lambda(lambda x: keras.ops.mean(x[:, 0, :, 0], axis=1, keepdims=True))(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([keras.ops.zeros_like(top), top]))
    boxes = np.random.default_rng(4).normal(size=(7, 5, 5)).astype(np.float32)
    edges = (boxes[:, 0, :].mean(1) + boxes[:, -1, :].mean(1) + boxes[:, :, 0].mean(1) + boxes[:, :, -1].mean(1)) / 4
    np.testing.assert_allclose(sigmoid(particle_margin(model, boxes, symmetries=4, batch_size=3)),
                               1 / (1 + np.exp(-edges)), rtol=1e-5)
    np.testing.assert_allclose(sigmoid(particle_margin(model, boxes)), 1 / (1 + np.exp(-boxes[:, 0, :].mean(1))),
                               rtol=1e-5)


def test_padded_batches_give_the_same_scores_in_batches_of_one_size():
    import keras
    from unpicker.networks.scoring import particle_margin, sigmoid

    inputs = keras.Input((5, 5, 1))
    top = keras.layers.Lambda(lambda x: keras.ops.mean(x[:, 0, :, 0], axis=1, keepdims=True))(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([keras.ops.zeros_like(top), top]))
    sizes = []
    predict = model.predict_on_batch
    model.predict_on_batch = lambda x: sizes.append(len(x)) or predict(x)
    boxes = np.random.default_rng(5).normal(size=(7, 5, 5)).astype(np.float32)
    plain = sigmoid(particle_margin(model, boxes, symmetries=4, batch_size=10, pad_to=0))
    assert sizes == [10, 10, 8]                       # 28 views in 3 near-equal batches
    sizes.clear()
    padded = sigmoid(particle_margin(model, boxes, symmetries=4, batch_size=10, pad_to=8))
    assert sizes == [16, 16]                          # 16 + 12 views, the second padded
    np.testing.assert_allclose(padded, plain, rtol=1e-6)


def test_many_boxes_are_scored_in_chunks_with_the_same_result(monkeypatch):
    import keras

    from unpicker.networks import scoring

    inputs = keras.Input((5, 5, 1))
    top = keras.layers.Lambda(lambda x: keras.ops.mean(x[:, 0, :, 0], axis=1, keepdims=True))(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([keras.ops.zeros_like(top), top]))
    boxes = np.random.default_rng(8).normal(size=(23, 5, 5)).astype(np.float32)
    whole = scoring.particle_margin(model, boxes, symmetries=4, logit_shift=0.5)
    monkeypatch.setattr(scoring, "SCORE_CHUNK", 5)
    np.testing.assert_allclose(scoring.particle_margin(model, boxes, symmetries=4, logit_shift=0.5), whole, rtol=1e-6)
