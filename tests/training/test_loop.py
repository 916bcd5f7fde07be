"""The training loop on small separable boxes (unpicker/training/loop.py)."""
from __future__ import annotations

import numpy as np

from unpicker.networks.model_file import read_model_info


def _small_boxes():
    """160 separable 16-px boxes and their labels (particles: a bright centre)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 16, 16)).astype(np.float32)
    y = rng.random(160) < 0.5
    x[y, 6:10, 6:10] += 2.0
    return x, y


def _train_small(folder, tag, held_out_micrographs=True, **config_args):
    """Train on the first 120 of ``_small_boxes``; return the model's scores of
    the other 40 (the validation boxes)."""
    import io

    from unpicker.images.preprocess import Preprocessing
    from unpicker.networks.architectures import build_network
    from unpicker.networks.scoring import ensemble_probability
    from unpicker.training.loop import train
    from unpicker.training.plan import TrainConfig

    x, y = _small_boxes()
    settings = Preprocessing(boxsize_px=16, resized_px=16)
    config = TrainConfig(**{"num_epochs": 2, "seed": 7, "num_cores": 2, "batch_size": 32, **config_args})
    r = train(x[:120], y[:120], x[120:], y[120:], settings, config, folder / f"{tag}.out",
                    out=io.StringIO(), progress=False, held_out_micrographs=held_out_micrographs)
    assert r.steps == config.num_epochs * 4 * 120 // 32
    networks = []
    for member, weights in read_model_info(folder / f"{tag}.out")[1]:
        model = build_network(member.network, 16)
        model.load_weights(weights)
        networks.append((model, member.logit_shift, (0,)))
    return ensemble_probability(networks, x[120:])


def test_one_training_micrograph_stores_keep_everything(tmp_path):
    _train_small(tmp_path, "one", held_out_micrographs=False, num_epochs=1)
    _train_small(tmp_path, "many", held_out_micrographs=True, num_epochs=1)
    assert read_model_info(tmp_path / "one.out")[0].threshold == 0.0
    assert read_model_info(tmp_path / "many.out")[0].threshold > 0.0


def test_same_seed_gives_the_same_model_on_cpu(tmp_path):
    np.testing.assert_array_equal(_train_small(tmp_path, "a"), _train_small(tmp_path, "b"))


def test_bfloat16_training_learns_the_boxes(tmp_path, monkeypatch):
    """``--precision bfloat16`` trains in bfloat16 with float32 weights; the
    model it saves separates the validation boxes as a float32 one does, and
    models built after the training are float32 again."""
    import keras

    from unpicker.networks import architectures as m
    from unpicker.training import loop

    built_under = []

    def spy(name, size):
        net = build(name, size)
        built_under.append(net.layers[1].dtype_policy.name)
        return net

    build = m.build_network
    monkeypatch.setattr(m, "build_network", spy)        # the networks _train_small builds after
    monkeypatch.setattr(loop, "build_network", spy)     # the networks trained
    labels = _small_boxes()[1][120:]
    prob = _train_small(tmp_path, "bf16", precision="bfloat16")
    assert built_under[0] == "mixed_bfloat16"                        # what it trained under
    assert keras.mixed_precision.dtype_policy().name == "float32"    # put back after it
    assert built_under[-1] == "float32"                              # _train_small's own model, built after
    assert np.isfinite(prob).all()
    assert prob[labels].min() > prob[~labels].max()


def test_refit_only_where_the_threshold_carries_over_and_training_was_not_capped():
    from unpicker.training.loop import refit_skipped

    assert refit_skipped("half F1", False) is None and refit_skipped("too few", False) is None
    assert "keep every pick" in refit_skipped("keep all", False)
    assert "own scores" in refit_skipped("best cut", False)
    assert "step cap" in refit_skipped("half F1", True)
