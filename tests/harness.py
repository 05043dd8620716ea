"""Shared test helpers: the layer checks, backend gradients and finite differences.

Every layer test of the library calls `check_layer`. It runs on whatever backend
the pytest process was started with (`KERAS_BACKEND`), and checks:

1. get_config / from_config round trip, and (de)serialization by registered name;
2. build on a symbolic input, with the expected output shape;
3. an eager call on NumPy data, finite, with the expected shape;
4. one `fit` step with a finite loss that changes the trainable weights;
5. `.keras` save and load with identical outputs;
6. `jit_compile=True` on jax and tensorflow: same outputs, finite fit loss (on
   jax, Keras's default `jit_compile="auto"` already compiled steps 4 and 5 with
   XLA: the check asserts that instead of compiling everything again);
7. mixed precision (`mixed_bfloat16` by default): finite outputs and fit loss.

Cross-backend weight loading is registered separately, one line per layer, in
`tests/cross_backend_cases.py`.
"""

import contextlib
import functools
import os

import keras
import numpy as np

BACKEND = keras.config.backend()


def _first(outputs):
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def _shapes(outputs):
    if isinstance(outputs, (list, tuple)):
        return [tuple(o.shape) for o in outputs]
    return tuple(outputs.shape)


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _all_finite(outputs):
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return all(np.all(np.isfinite(_numpy(o).astype("float32"))) for o in outputs)


def make_input(input_shape, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    if dtype.startswith("int"):
        return rng.integers(0, 10, size=input_shape).astype(dtype)
    return rng.normal(size=input_shape).astype(dtype)


def _model(layer, input_shape, dtype):
    inputs = keras.Input(shape=input_shape[1:], dtype=dtype)
    return keras.Model(inputs, layer(inputs))


# Steps 4 and 5 compile as a user would by default on jax ("auto": XLA; jit off
# would mean op-by-op eager JAX, slow and unlike real use) and without XLA on
# tensorflow and torch (step 6 then checks XLA on tensorflow).
_DEFAULT_JIT = "auto" if BACKEND == "jax" else False


def _fit_once(model, x, jit_compile=_DEFAULT_JIT):
    y = keras.tree.map_structure(lambda o: np.zeros(o.shape, "float32"), model(x))
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=jit_compile)
    history = model.fit(x, y, batch_size=x.shape[0], epochs=1, verbose=0)
    return history.history["loss"][-1]


def check_layer(
    layer_cls,
    init_kwargs,
    input_shape,
    *,
    expected_output_shape=None,
    input_dtype="float32",
    input_data=None,
    run_fit=True,
    weights_without_gradient=(),
    run_jit=True,
    run_mixed_precision=True,
    mixed_precision_policy="mixed_bfloat16",
    atol=1e-6,
    tmp_path=None,
):
    """Runs the shared layer checks for `layer_cls(**init_kwargs)`.

    Args:
        layer_cls: the layer class under test.
        init_kwargs: constructor arguments.
        input_shape: full input shape including the batch axis, e.g. `(2, 5, 3)`.
        expected_output_shape: expected eager output shape (a tuple, or a list
            of tuples for several outputs); checked if given.
        input_dtype: dtype of the generated input.
        input_data: a NumPy input to use instead of random normal data.
        run_fit: run the `fit` checks (skip for layers with no gradient path).
        weights_without_gradient: names (paths) of trainable weights that may
            stay unchanged after one fit step; every other trainable weight must
            change (catches broken gradient paths, including a single dead one).
        run_jit: run the `jit_compile=True` checks on jax and tensorflow.
        run_mixed_precision: run the mixed-precision checks.
        mixed_precision_policy: the policy for that check.
        atol: tolerance for the output comparisons.
        tmp_path: a directory for the `.keras` file (pytest's `tmp_path`).
    """
    x = make_input(input_shape, input_dtype) if input_data is None else input_data

    # 1. Config round trip and registration.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    rebuilt = layer_cls.from_config(config)
    assert rebuilt.get_config() == config, "from_config(get_config()) changed the config"
    serialized = keras.saving.serialize_keras_object(layer)
    try:
        revived = keras.saving.deserialize_keras_object(serialized)
    except (TypeError, ValueError) as e:
        raise AssertionError(
            f"{layer_cls.__name__} could not be deserialized ({e}): is it registered "
            "with keras.saving.register_keras_serializable?"
        ) from e
    assert type(revived) is layer_cls, (
        f"deserialization gave {type(revived).__name__}: is {layer_cls.__name__} "
        "registered with keras.saving.register_keras_serializable?"
    )

    # 2. Symbolic build.
    inputs = keras.Input(shape=input_shape[1:], dtype=input_dtype)
    symbolic = layer_cls(**init_kwargs)(inputs)
    if expected_output_shape is not None:
        got = _shapes(symbolic)
        want = expected_output_shape
        if isinstance(want, list):
            want = [(None,) + tuple(w[1:]) for w in want]
        else:
            want = (None,) + tuple(want[1:])
        assert got == want, f"symbolic output shape {got}, expected {want}"

    # 3. Eager call.
    eager_layer = layer_cls(**init_kwargs)
    outputs = eager_layer(x)
    if expected_output_shape is not None:
        assert _shapes(outputs) == (
            [tuple(s) for s in expected_output_shape]
            if isinstance(expected_output_shape, list)
            else tuple(expected_output_shape)
        ), f"eager output shape {_shapes(outputs)}, expected {expected_output_shape}"
    assert _all_finite(outputs), "eager call produced NaN or Inf"

    # 4. One fit step.
    model = _model(layer_cls(**init_kwargs), input_shape, input_dtype)
    if run_fit:
        before = [_numpy(w).copy() for w in model.trainable_weights]
        loss = _fit_once(model, x)
        assert np.isfinite(loss), f"fit loss is {loss}"
        unchanged = [
            w.path
            for w, b in zip(model.trainable_weights, before)
            if np.array_equal(_numpy(w), b)
            and w.name not in weights_without_gradient
            and w.path not in weights_without_gradient
        ]
        assert not unchanged, (
            f"one fit step left trainable weights {unchanged} unchanged: no gradient "
            "reached them (list them in `weights_without_gradient` if that is meant)"
        )

    # 5. .keras save and load.
    reference = model.predict(x, verbose=0)
    if tmp_path is not None:
        path = os.path.join(str(tmp_path), "layer_check.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        reloaded = loaded.predict(x, verbose=0)
        for a, b in zip(keras.tree.flatten(reference), keras.tree.flatten(reloaded)):
            np.testing.assert_allclose(a, b, atol=atol, rtol=0, err_msg="save/load changed outputs")

    # 6. jit_compile on jax and tensorflow.
    if run_jit and run_fit and BACKEND == "jax":
        assert model.jit_compile is True, "on jax, fit and predict should run under XLA"
    if run_jit and BACKEND == "tensorflow":
        jit_model = _model(layer_cls(**init_kwargs), input_shape, input_dtype)
        jit_model.set_weights(model.get_weights())
        jit_model.compile(loss="mse", jit_compile=True)
        jitted = jit_model.predict(x, verbose=0)
        for a, b in zip(keras.tree.flatten(reference), keras.tree.flatten(jitted)):
            np.testing.assert_allclose(
                a, b, atol=max(atol, 1e-5), rtol=1e-5, err_msg="jit_compile changed outputs"
            )
        if run_fit:
            loss = _fit_once(jit_model, x, jit_compile=True)
            assert np.isfinite(loss), f"jit-compiled fit loss is {loss}"

    # 7. Mixed precision.
    if run_mixed_precision:
        mp_layer = layer_cls(**init_kwargs, dtype=mixed_precision_policy)
        mp_model = _model(mp_layer, input_shape, input_dtype)
        assert _all_finite(mp_model(x)), f"{mixed_precision_policy} output has NaN or Inf"
        if run_fit:
            loss = _fit_once(mp_model, x)
            assert np.isfinite(loss), f"{mixed_precision_policy} fit loss is {loss}"
    return model


def value_and_grad(f, *args, jit=False):
    """The value of scalar `f(*args)` and its gradients w.r.t. every arg, as NumPy.

    On torch the gradients are read from `.grad` after `backward()`, so tensors
    that `f` closes over through `keras_gradstab.ops.scan` are covered as in a
    training step. `jit=True` compiles the value and gradient: `jax.jit` on JAX,
    `tf.function(jit_compile=True)` (XLA) on TensorFlow; torch stays eager.
    """
    if BACKEND == "jax":
        import jax

        fn = jax.value_and_grad(lambda *a: f(*a), argnums=tuple(range(len(args))))
        value, grads = (jax.jit(fn) if jit else fn)(*[jax.numpy.asarray(a) for a in args])
        return float(value), [np.asarray(g) for g in grads]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        variables = [tf.Variable(a) for a in args]

        def run():
            with tf.GradientTape() as tape:
                value = f(*variables)
            return value, tape.gradient(value, variables)

        value, grads = (tf.function(run, jit_compile=True) if jit else run)()
        return float(value), [
            np.zeros_like(a) if g is None else np.asarray(tf.convert_to_tensor(g))
            for a, g in zip(args, grads)
        ]
    if BACKEND == "torch":
        import torch

        # On the device Keras computes on (a GPU where there is one).
        device = keras.ops.convert_to_tensor(0.0).device
        tensors = [torch.tensor(np.asarray(a), device=device, requires_grad=True) for a in args]
        value = f(*tensors)
        value.backward()
        return float(value.detach()), [
            np.zeros_like(a) if t.grad is None else t.grad.cpu().numpy()
            for a, t in zip(args, tensors)
        ]
    raise NotImplementedError(f"no gradient helper for backend {BACKEND}")


def backend_jacobian(model, x):
    """J[i, j] = d model(x)_i / d x_j for one example `x` of shape [1, n], by one
    backend gradient: row i of a batch of n copies of x picks output i."""
    n = x.shape[1]
    eye = keras.ops.convert_to_tensor(np.eye(n, dtype="float32"))
    _, (grad,) = value_and_grad(lambda v: keras.ops.sum(model(v) * eye), np.tile(x, (n, 1)))
    return grad.astype("float64")


def numerical_grad(f, *args, eps=1e-6):
    """Central finite differences of scalar `f` (NumPy in, float out) w.r.t. each arg."""
    grads = []
    for i, a in enumerate(args):
        a = np.asarray(a, dtype="float64")
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus, minus = a.copy(), a.copy()
            plus[idx] += eps
            minus[idx] -= eps
            lo = list(args)
            hi = list(args)
            hi[i], lo[i] = plus, minus
            g[idx] = (f(*hi) - f(*lo)) / (2 * eps)
        grads.append(g)
    return grads


# Keras 3.15 promotes 64-bit results of keras.ops to 32-bit on jax and torch
# (keras/src/backend/common/dtypes.py, BIT64_TO_BIT32_DTYPE): code written with
# keras.ops computes in float64 on tensorflow only.
KERAS_OPS_KEEP_FLOAT64 = BACKEND == "tensorflow"


def has_float64():
    """Whether the backend's own tensors compute in float64 right now.

    True on tensorflow and torch; on JAX only with x64 enabled (`with_float64`).
    Code that goes through keras.ops keeps float64 only where
    `KERAS_OPS_KEEP_FLOAT64`.
    """
    if BACKEND == "jax":
        import jax

        return bool(jax.config.jax_enable_x64)
    return True


@contextlib.contextmanager
def float64_mode():
    """Enables float64 for the duration (JAX's x64 mode; a no-op elsewhere)."""
    if BACKEND == "jax":
        import jax

        with jax.enable_x64(True):
            yield
    else:
        yield


def with_float64(test):
    """Decorator: runs a test with float64 available on every backend."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        with float64_mode():
            return test(*args, **kwargs)

    return wrapper
