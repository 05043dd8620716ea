"""Checks shared by the tests of the orthogonal recurrent layers (ScoRNN, NCGRU, ENRNN)."""

import contextlib

import keras
import numpy as np
import pytest
from harness import BACKEND, KERAS_OPS_KEEP_FLOAT64, numerical_grad, value_and_grad


def np_skew(x):
    """A = triu(X, 1) - triu(X, 1)^T, in float64."""
    upper = np.triu(np.asarray(x, "float64"), 1)
    return upper - upper.T


def np_cayley(x, d):
    """NumPy reference of the scaled Cayley transform of A = np_skew(x), in float64."""
    a = np_skew(x)
    eye = np.eye(a.shape[0])
    return np.linalg.solve(eye + a, eye - a) * np.asarray(d, "float64")[None, :]


def np_ncgru_matrices(weights, n_neg, orthogonal_reset):
    """NC-GRU's `(U_c, [U_u | U_r])` in float64: the scaled Cayley candidate matrix
    and the gates' recurrent matrix (the reset part a Cayley matrix too with
    `orthogonal_reset`)."""
    n = weights["recurrent_skew"].shape[0]
    d = np.r_[np.ones(n - n_neg), -np.ones(n_neg)]
    gates = weights["recurrent_kernel"]
    if orthogonal_reset:
        gates = np.concatenate([gates, np_cayley(weights["reset_skew"], d)], 1)
    return np_cayley(weights["recurrent_skew"], d), gates


def np_modrelu(z, b):
    return np.maximum(np.abs(z) + b, 0.0) * np.sign(z)


def numpy_weights(layer):
    return {w.name: keras.ops.convert_to_numpy(w).astype("float64") for w in layer.weights}


def run_numpy(step, h0, x):
    """Runs `step(h, x_t) -> h` over axis 1 of `x`; returns all states [B, T, n]."""
    h, outs = h0, []
    for t in range(x.shape[1]):
        h = step(h, x[:, t])
        outs.append(h)
    return np.stack(outs, 1)


def assert_matches_keras_loop(layer_cls, kwargs, x, mask=None):
    """Our scan loop against keras.layers.RNN(cell) (Keras's own loop), same cell."""
    for go_backwards in (False, True):
        layer = layer_cls(
            **kwargs, return_sequences=True, return_state=True, go_backwards=go_backwards
        )
        ours = layer(x, mask=mask)
        keras_loop = keras.layers.RNN(
            layer.cell, return_sequences=True, return_state=True, go_backwards=go_backwards
        )
        theirs = keras_loop(x, mask=mask)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), atol=1e-5
            )


def assert_gradients_match_finite_differences(
    layer_cls, kwargs, randomize, numpy_forward, input_seed=1, weight_seed=2
):
    """Backend gradients of sum(out * r) w.r.t. every trainable weight against central
    differences of the NumPy reference `numpy_forward(weights, x)` (float64), for
    `layer_cls(**kwargs)` on a random [2, 4, 3] input (drawn with `input_seed`) with
    its weights drawn by `randomize(layer, seed=weight_seed)`. On tensorflow the layer
    runs in float64 (keras.ops keeps it there); elsewhere in float32."""
    dtype, rtol = fd_dtype()
    x = np.random.default_rng(input_seed).normal(size=(2, 4, 3)).astype(dtype)
    layer = layer_cls(**kwargs, dtype=dtype)
    layer.build(x.shape)
    randomize(layer, seed=weight_seed)
    trainable = list(layer.trainable_variables)
    names = [w.name for w in trainable]
    values = [keras.ops.convert_to_numpy(w) for w in trainable]
    non_trainable = [w.value for w in layer.non_trainable_variables]
    out_shape = keras.ops.convert_to_numpy(layer(x)).shape
    r = np.random.default_rng(7).normal(size=out_shape).astype(values[0].dtype)

    def loss(*weights):
        out, _ = layer.stateless_call(list(weights), non_trainable, x)
        return keras.ops.sum(keras.ops.multiply(out, r))

    _, grads = value_and_grad(loss, *values)

    def numpy_loss(*weights):
        return float(np.sum(numpy_forward(dict(zip(names, weights)), x) * r))

    eps = 1e-6 if values[0].dtype == np.float64 else 1e-4
    numeric = numerical_grad(numpy_loss, *[v.astype("float64") for v in values], eps=eps)
    for name, g, n in zip(names, grads, numeric):
        scale = np.abs(n).max() + 1e-12
        err = np.abs(g - n).max() / scale
        assert err < rtol, f"gradient of {name}: relative error {err:.2e} (max |grad| {scale:.2e})"


def fd_dtype():
    return ("float64", 1e-6) if KERAS_OPS_KEEP_FLOAT64 else ("float32", 2e-3)


def orthogonality_error(w):
    w = np.asarray(keras.ops.convert_to_numpy(w), "float64")
    return np.abs(w.T @ w - np.eye(w.shape[0])).max()


def train_adam(model, steps, batch, seed=0, learning_rate=1e-2):
    """`steps` Adam steps (lr 1e-2) on random data, in one `fit` epoch."""
    rng = np.random.default_rng(seed)
    shape = model.inputs[0].shape
    x = rng.normal(size=(steps * batch,) + tuple(shape[1:])).astype("float32")
    y = rng.normal(size=(steps * batch,) + tuple(model.outputs[0].shape[1:])).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)


@contextlib.contextmanager
def torch_single_thread():
    """One torch thread for these tiny matrices: on a loaded 2-core machine torch's
    two threads contend and a small training step runs ~40x slower."""
    if BACKEND != "torch":
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Every test of a module that imports this fixture runs in `torch_single_thread`."""
    with torch_single_thread():
        yield
