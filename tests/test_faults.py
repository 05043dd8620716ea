"""Fault injection: NaN and inf in inputs, initial states and weights, and bad arguments.

A non-finite value must come out where the arithmetic puts it (NumPy loops are the
references) and nowhere else: never an exception, never a finite value in its
place, never a leak into another example of the batch. Bad arguments get a
ValueError naming them.
"""

import keras
import numpy as np
import pytest
from harness import value_and_grad
from keras import ops
from plstm_reference import plstm_1d_reference, plstm_2d_reference

import keras_gradstab as kg
from keras_gradstab.activations import modrelu

NAN, INF = float("nan"), float("inf")


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def assert_same_faults(got, expected, rtol=1e-4, atol=1e-5):
    """`got` matches `expected`, NaN for NaN and inf for inf at the same places."""
    got = np.asarray(got, "float64")
    expected = np.asarray(expected, "float64")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)


# ---------------------------------------------------------------- ops


def scan_problem(where, value):
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(5, 2, 3)).astype("float32")
    h0 = rng.normal(size=(2, 3)).astype("float32")
    w = (rng.normal(size=(3, 3)) / 2).astype("float32")
    target = {
        "x0": (xs, (0, 0, 1)),
        "x1": (xs, (1, 0, 1)),
        "init": (h0, (0, 1)),
        "weight": (w, (1, 2)),
    }[where]
    target[0][target[1]] = value
    return xs, h0, w


@pytest.mark.parametrize("where", ["x0", "x1", "init", "weight"])
@pytest.mark.parametrize("value", [NAN, INF])
def test_scan_carries_non_finite_values_like_numpy(where, value):
    xs, h0, w = scan_problem(where, value)
    w_tensor = ops.convert_to_tensor(w)

    def step(h, x):
        h = 0.5 * ops.matmul(h, w_tensor) + x
        return h, h

    carry, ys = kg.ops.scan(step, h0, xs)
    h, expected = h0.astype("float64"), []
    with np.errstate(invalid="ignore", over="ignore"):
        for x in xs:
            h = 0.5 * h @ w.astype("float64") + x
            expected.append(h)
    assert_same_faults(numpy(ys), np.stack(expected))
    assert_same_faults(numpy(carry), expected[-1])


def numpy_linear_recurrence(a, b, initial):
    h, out = initial.astype("float64"), np.zeros(b.shape)
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out[:, t] = h
    return out


@pytest.mark.parametrize("where", ["a", "b", "initial"])
def test_linear_recurrence_carries_nan_like_numpy(where):
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, size=(2, 6, 3)).astype("float32")
    b = rng.normal(size=(2, 6, 3)).astype("float32")
    initial = rng.normal(size=(2, 3)).astype("float32")
    {"a": a, "b": b, "initial": initial}[where][(0, 2, 1) if where != "initial" else (0, 1)] = NAN
    got = kg.ops.linear_recurrence(a, b, initial=initial)
    assert_same_faults(numpy(got), numpy_linear_recurrence(a, b, initial))


def plstm_1d_problem(poison):
    rng = np.random.default_rng(2)
    q, k = rng.normal(size=(2, 2, 6, 3)).astype("float32")
    v = rng.normal(size=(2, 6, 2)).astype("float32")
    gates = list(rng.uniform(0.1, 0.9, size=(4, 2, 6)).astype("float32"))
    arrays = {"q": q, "k": k, "v": v, "transition": gates[1]}
    arrays[poison][0, 1] = NAN
    return q, k, v, gates


@pytest.mark.parametrize("form", ["recurrent", "parallel"])
@pytest.mark.parametrize("poison", ["q", "k", "v", "transition"])
def test_plstm_1d_carries_nan_like_numpy(form, poison):
    q, k, v, gates = plstm_1d_problem(poison)
    got = numpy(kg.ops.plstm_1d(q, k, v, *gates, chunk_size=3, form=form))
    with np.errstate(invalid="ignore"):
        expected, _ = plstm_1d_reference(q, k, v, *gates)
    assert_same_faults(*nan_outside_chunk(form, got, expected, np.s_[:, 3:]))


def nan_outside_chunk(form, got, expected, outside):
    """The parallel forms' masked products let a NaN reach the earlier steps of its
    own chunk too (0 * NaN), and in 2D every cell of the tiles it flows into: a
    superset of the reference's NaN there, the exact faults outside."""
    if form == "parallel":
        assert np.isnan(got[np.isnan(expected)]).all()
        return got[outside], expected[outside]
    return got, expected


@pytest.mark.parametrize("form", ["recurrent", "parallel"])
def test_plstm_2d_carries_nan_like_numpy(form):
    rng = np.random.default_rng(3)
    q, k = rng.normal(size=(2, 2, 3, 4, 2)).astype("float32")
    v = rng.normal(size=(2, 3, 4, 2)).astype("float32")
    gates = list(rng.uniform(0.1, 0.45, size=(9, 2, 3, 4)).astype("float32"))
    k[0, 2, 2, 0] = NAN  # in the tile x, y in [2, 4) of chunk_size=2
    got = numpy(kg.ops.plstm_2d(q, k, v, *gates, chunk_size=2, form=form))
    with np.errstate(invalid="ignore"):
        expected = plstm_2d_reference(q, k, v, *gates)
    downstream = (np.arange(3)[:, None] >= 2) & (np.arange(4)[None, :] >= 2)
    assert_same_faults(*nan_outside_chunk(form, got, expected, np.s_[:, ~downstream]))


def test_cayley_of_a_non_finite_matrix_is_nan():
    a = np.array([[0.0, 0.5], [-0.5, 0.0]], "float32")
    for value in (NAN, INF):
        bad = a.copy()
        bad[0, 1] = value
        assert np.isnan(numpy(kg.ops.cayley(bad, d=np.array([1.0, -1.0], "float32")))).all()


def test_modrelu_passes_nan_and_keeps_finite_values_and_gradients():
    x = np.array([-2.0, -0.3, 0.0, 0.2, 1.5, NAN], "float32")
    bias = np.array([-1.0, 0.5, 0.1, -0.5, 0.25, 0.0], "float32")
    got = numpy(modrelu(x, bias))
    expected = np.maximum(np.abs(x) + bias, 0) * np.sign(x)
    np.testing.assert_array_equal(got[:-1], expected[:-1])  # bit for bit
    assert np.isnan(got[-1])
    assert np.isnan(numpy(modrelu(np.ones(2, "float32"), np.array([NAN, 0.0], "float32"))))[0]
    finite_x, finite_b = x[:-1], bias[:-1]
    weights = np.arange(1.0, 6.0, dtype="float32")

    def total(t, b):
        return ops.sum(modrelu(t, b) * ops.convert_to_tensor(weights))

    _, (grad_x, grad_b) = value_and_grad(total, finite_x, finite_b)
    active = np.abs(finite_x) + finite_b > 0
    np.testing.assert_array_equal(grad_x, np.where(active, weights, 0))
    np.testing.assert_array_equal(grad_b, np.where(active, weights * np.sign(finite_x), 0))


# ---------------------------------------------------------------- layers

RECURRENT = {
    "NCGRU": lambda: kg.layers.NCGRU(4, return_sequences=True, seed=0),
    "NCGRU_neumann": lambda: kg.layers.NCGRU(4, cayley_inverse="neumann", seed=0),
    "ScoRNN": lambda: kg.layers.ScoRNN(4, return_sequences=True, seed=0),
    "ENRNN": lambda: kg.layers.ENRNN(4, 2, return_sequences=True, seed=0),
    "SBORNN": lambda: kg.layers.SBORNN(4, rank=2, return_sequences=True),
}
LAYERS = {
    **RECURRENT,
    "PLSTM1D": lambda: kg.layers.PLSTM1D(num_heads=2, form="recurrent"),
    "PLSTM2D": lambda: kg.layers.PLSTM2D(num_heads=2, num_orientations=1, form="recurrent"),
}


def layer_input(name):
    shape = (2, 3, 3, 4) if name == "PLSTM2D" else (2, 4, 4)
    return np.random.default_rng(4).normal(size=shape).astype("float32")


def assert_fault_in_first_example(got, clean, nan):
    """Example 1 as without the fault; example 0 (the faulty one) NaN if `nan`."""
    np.testing.assert_allclose(got[1], clean[1], rtol=1e-5, atol=1e-6)
    if nan:
        assert np.isnan(got[0]).any()


@pytest.mark.parametrize("value", [NAN, INF])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_non_finite_input_stays_in_its_example(name, value):
    layer = LAYERS[name]()
    x = layer_input(name)
    clean = numpy(layer(x))
    x[(0, 0) + (0,) * (x.ndim - 2)] = value
    assert_fault_in_first_example(numpy(layer(x)), clean, nan=np.isnan(value))


@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_recurrent_nan_initial_state_stays_in_its_example(name):
    layer = RECURRENT[name]()
    x = layer_input(name)
    layer(x)
    states = [np.zeros((2, s), "float32") for s in np.atleast_1d(layer.cell.state_size)]
    clean = numpy(layer(x, initial_state=[ops.convert_to_tensor(s) for s in states]))
    states[0][0, 1] = NAN
    got = numpy(layer(x, initial_state=[ops.convert_to_tensor(s) for s in states]))
    assert_fault_in_first_example(got, clean, nan=True)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_nan_in_any_trainable_weight_gives_nan(name):
    layer = LAYERS[name]()
    x = layer_input(name)
    layer(x)
    original = [numpy(w) for w in layer.trainable_weights]
    for weight, value in zip(layer.trainable_weights, original):
        poisoned = value.copy()
        # A skew parameter X enters A = triu(X, 1) - triu(X, 1)^T: poison an entry of
        # its strict upper triangle (the diagonal and lower triangle are unused).
        poisoned.flat[1 if "skew" in weight.path else 0] = NAN
        weight.assign(poisoned)
        assert np.isnan(numpy(layer(x, training=True))).any(), weight.path
        weight.assign(value)


def nan_model():
    model = keras.Sequential(
        [keras.Input((4, 3)), kg.layers.NCGRU(4, seed=0), keras.layers.Dense(1)]
    )
    model.compile("sgd", "mse")
    kernel = model.layers[0].cell.kernel
    poisoned = numpy(kernel).copy()
    poisoned[0, 0] = NAN
    kernel.assign(poisoned)
    return model


def test_nan_weights_predict_fit_and_diagnostics():
    model = nan_model()
    x = np.random.default_rng(5).normal(size=(8, 4, 3)).astype("float32")
    y = np.zeros((8, 1), "float32")
    assert np.isnan(model.predict(x, verbose=0)).all()
    report = kg.diagnostics.gradient_report(model, x, y)
    assert report.nan and not report.exploding and not report.vanishing
    assert str(report).endswith(": nan")
    monitor = kg.diagnostics.GradientMonitor(x, y, every=1)
    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=3,
        verbose=0,
        callbacks=[monitor, keras.callbacks.TerminateOnNaN()],
    )
    assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])
    assert model.stop_training
    assert any(
        np.isnan(r["weight_grad_norm"])
        for r in monitor.history
        if r["weight_grad_norm"] is not None
    )


def test_gradient_report_labels_nan_rows():
    rows = [
        {
            "layer": n,
            "weight_grad_norm": g,
            "output_grad_norm": g,
            "activation_mean": 0.0,
            "activation_var": 1.0,
        }
        for n, g in (("a", 1.0), ("b", NAN))
    ]
    report = kg.diagnostics.GradientReport(rows, "output_grad_norm", INF, threshold=4.0)
    assert report.nan and np.isnan(report.ratio) and not report.exploding


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_zero_length_sequence_is_named(name):
    x = layer_input(name)[:, :0]
    with pytest.raises(ValueError, match="sequence length"):
        LAYERS[name]()(x)


@pytest.mark.parametrize("axis", [3, 4, -4])
def test_channel_normalization_axis_out_of_range(axis):
    layer = kg.layers.ChannelNormalization(axis=axis)
    with pytest.raises(ValueError, match=rf"`axis` must be in \[-3, 2\].*axis={axis}"):
        layer(np.ones((2, 5, 3), "float32"))


@pytest.mark.parametrize(
    "make,argument",
    [
        (lambda v: kg.quantizers.ReSTE(o=v), "o"),
        (lambda v: kg.quantizers.ReSTE(threshold=v), "threshold"),
        (lambda v: kg.callbacks.ReSTESchedule(o_end=v), "o_end"),
        (lambda v: kg.quantizers.SwishSign(beta=v), "beta"),
        (lambda v: kg.quantizers.SteSign(clip_value=v), "clip_value"),
        (lambda v: kg.constraints.WeightClip(clip_value=v), "clip_value"),
        (lambda v: kg.regularizers.JacobianOrthogonality(factor=v), "factor"),
        (lambda v: kg.regularizers.OrthogonalConv(factor=v), "factor"),
        (lambda v: kg.layers.SBORNN(4, eta=v), "eta"),
    ],
)
@pytest.mark.parametrize("value", [INF, NAN])
def test_non_finite_parameters_are_rejected(make, argument, value):
    with pytest.raises(ValueError, match=rf"`{argument}` must be a finite"):
        make(value)


def test_gradient_report_on_an_unbuilt_model():
    model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="not built"):
        kg.diagnostics.gradient_report(
            model, np.ones((2, 4), "float32"), np.ones((2, 1), "float32")
        )
