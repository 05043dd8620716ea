"""The hypermodels build what their hyperparameters say, and a 2-trial search runs."""

import math

import keras
import numpy as np
import pytest

keras_tuner = pytest.importorskip("keras_tuner", reason="the `tuner` extra is not installed")

from keras_gradstab import layers, quantizers, regularizers, tuner  # noqa: E402


def fixed(**values):
    hp = keras_tuner.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


def learning_rate(model):
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def test_snn_depth_units_dropout_and_learning_rate_reach_the_model():
    hp = fixed(depth=3, units=24, dropout=0.07, learning_rate=0.004)
    model = tuner.SNNHyperModel((8, 8, 1), 10).build(hp)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [24, 24, 24, 10]
    dropouts = [layer for layer in model.layers if isinstance(layer, layers.AlphaDropout)]
    assert [d.rate for d in dropouts] == pytest.approx([0.07] * 3)
    assert learning_rate(model) == pytest.approx(0.004)
    # Parameters: (64*24 + 24) + 2 (24*24 + 24) + (24*10 + 10).
    assert model.count_params() == 64 * 24 + 24 + 2 * (24 * 24 + 24) + 24 * 10 + 10


@pytest.mark.parametrize("kind", ["lorth", "exact"])
def test_orthogonal_cnn_conv_kind_and_lorth_factor(kind):
    hp = fixed(conv=kind, filters=8, lorth_factor=0.3, learning_rate=0.001)
    model = tuner.OrthogonalCNNHyperModel((8, 8, 1), 10).build(hp)
    conv = model.get_layer("conv_1")
    if kind == "exact":
        assert isinstance(conv, layers.OrthogonalConv2D) and conv.filters == 8
    else:
        assert isinstance(conv.kernel_regularizer, regularizers.OrthogonalConv)
        assert conv.kernel_regularizer.factor == pytest.approx(0.3)
        assert conv.strides == (2, 2)
    assert model.output_shape == (None, 10)


def test_recurrent_cell_units_and_neumann_terms():
    hp = fixed(
        cell="ncgru", units=12, cayley_inverse="neumann", neumann_terms=3, learning_rate=0.002
    )
    hypermodel = tuner.RecurrentHyperModel((20, 1), 10, cell=["ncgru", "scornn"])
    cell = hypermodel.build(hp).get_layer("recurrent").cell
    assert (cell.units, cell.cayley_inverse, cell.neumann_terms) == (12, "neumann", 3)
    hp = fixed(units=6, normalized_units=4)
    model = tuner.RecurrentHyperModel(
        (7,), 10, cell="enrnn", vocabulary_size=10, return_sequences=True
    ).build(hp)
    assert isinstance(model.get_layer("recurrent"), layers.ENRNN)
    out = model.predict(np.zeros((2, 7), "int32"), verbose=0)
    assert out.shape == (2, 7, 10)  # one prediction per step, state 6 + 4
    assert model.get_layer("logits").kernel.shape == (10, 10)


def test_reste_fit_drives_o_to_the_trials_o_end():
    hp = fixed(o_end=2.5, width=4, learning_rate=0.001)
    hypermodel = tuner.ReSTEBNNHyperModel((8, 8, 1), 10)
    model = hypermodel.build(hp)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 8, 8, 1)).astype("float32"), rng.integers(0, 10, 8)
    hypermodel.fit(hp, model, x, y, epochs=2, batch_size=8, verbose=0)
    found = [
        float(keras.ops.convert_to_numpy(q.o))
        for layer in model.layers
        for q in (getattr(layer, "input_quantizer", None), getattr(layer, "kernel_quantizer", None))
        if isinstance(q, quantizers.ReSTE)
    ]
    assert len(found) == 4  # 2 binarized layers x (inputs, kernel)
    # The cosine schedule reaches o_end on the last epoch: 1 + (1 - cos(pi/2)) * 1.5.
    assert found == pytest.approx([1.0 + (1.0 - math.cos(math.pi / 2)) * 1.5] * 4)


def test_plstm_mode_heads_and_depth():
    hp = fixed(mode="PD", num_heads=2, dim=8, depth=1, learning_rate=0.001)
    model = tuner.PLSTMHyperModel((None, None, 1), 2, patch_size=8).build(hp)
    blocks = [layer for layer in model.layers if isinstance(layer, layers.PLSTMBlock)]
    assert [(b.name, b.mode, b.num_heads) for b in blocks] == [("plstm_0", "PD", 2)]
    assert model.get_layer("patch_embedding").filters == 8
    # Global pooling: the same model applies to any image size (here 2x2 patches).
    assert model(np.ones((1, 16, 16, 1), "float32")).shape == (1, 2)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="num_classes"):
        tuner.SNNHyperModel((4,), 1)
    with pytest.raises(ValueError, match="cell"):
        tuner.RecurrentHyperModel((4, 1), 3, cell="lstm")
    with pytest.raises(ValueError, match="input_shape"):
        tuner.OrthogonalCNNHyperModel((8, 8), 3)
    with pytest.raises(ValueError, match="Unknown preset"):
        tuner.tune("no_such_preset")


def test_random_search_of_two_trials(tmp_path):
    result = tuner.tune(
        "snn_mlp_digits", max_trials=2, epochs=1, max_train=300, quick=True, directory=str(tmp_path)
    )
    trials = result["trials"]
    assert len(trials) == 2
    losses = [t["val_loss"] for t in trials]
    assert all(np.isfinite(losses))
    assert result["best_val_loss"] == min(losses)
    best = result["best_hyperparameters"]
    assert best in [t["hyperparameters"] for t in trials]
    assert 2 <= best["depth"] <= 4 and best["units"] in (32, 64)
    assert 1e-4 <= best["learning_rate"] <= 1e-2
    assert trials[0]["hyperparameters"] != trials[1]["hyperparameters"]
