"""SteSign, ApproxSign, SwishSign, SteHeaviside, DoReFa: forward values and surrogate
gradients against their closed forms (Larq's definitions) on a grid of inputs."""

import keras
import numpy as np
import pytest
from harness import numerical_grad
from quantizer_grads import quantizer_grad

from keras_gradstab import quantizers
from keras_gradstab.quantizers import (
    ApproxSign,
    DoReFa,
    SteHeaviside,
    SteSign,
    SwishSign,
)

GRID = np.concatenate([np.linspace(-3.0, 3.0, 121), [0.0, 1.0, -1.0, 1e-7, -1e-7]]).astype(
    "float32"
)
EXTREMES = np.array([0.0, -0.0, 1e-30, -1e-30, 3e38, -3e38], "float32")


def sign(x):
    return np.where(x >= 0, 1.0, -1.0)


def swish_sign_grad(x, beta):
    """Larq's formula: beta (2 - beta x tanh(beta x / 2)) / (1 + cosh(beta x))."""
    bx = beta * np.asarray(x, "float64")
    with np.errstate(over="ignore"):
        return beta * (2.0 - bx * np.tanh(bx / 2.0)) / (1.0 + np.cosh(bx))


def dorefa_reference(x, k_bit):
    levels = 2.0**k_bit - 1.0
    return np.round(np.clip(x, 0.0, 1.0) * levels) / levels


# name -> (quantizer, forward in NumPy, surrogate derivative in NumPy)
CASES = {
    "ste_sign": (lambda: SteSign(), sign, lambda x: (np.abs(x) <= 1.0) * 1.0),
    "ste_sign_clip_0.5": (
        lambda: SteSign(clip_value=0.5),
        sign,
        lambda x: (np.abs(x) <= 0.5) * 1.0,
    ),
    "ste_sign_no_clip": (lambda: SteSign(clip_value=None), sign, lambda x: np.ones_like(x)),
    "approx_sign": (
        lambda: ApproxSign(),
        sign,
        lambda x: np.where(np.abs(x) <= 1.0, 2.0 - 2.0 * np.abs(x), 0.0),
    ),
    "swish_sign": (lambda: SwishSign(), sign, lambda x: swish_sign_grad(x, 5.0)),
    "swish_sign_beta_2": (lambda: SwishSign(beta=2.0), sign, lambda x: swish_sign_grad(x, 2.0)),
    "ste_heaviside": (
        lambda: SteHeaviside(),
        lambda x: (x > 0) * 1.0,
        lambda x: (np.abs(x) <= 1.0) * 1.0,
    ),
    "dorefa_2bit": (
        lambda: DoReFa(k_bit=2),
        lambda x: dorefa_reference(x, 2),
        lambda x: ((x >= 0) & (x <= 1)) * 1.0,
    ),
    "dorefa_4bit": (
        lambda: DoReFa(k_bit=4),
        lambda x: dorefa_reference(x, 4),
        lambda x: ((x >= 0) & (x <= 1)) * 1.0,
    ),
}


def test_forward_matches_closed_form():
    for name, (make, forward, _) in CASES.items():
        got = keras.ops.convert_to_numpy(make()(GRID))
        np.testing.assert_allclose(got, forward(GRID), atol=1e-7, rtol=0, err_msg=name)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_surrogate_gradient_matches_closed_form(jit):
    upstream = np.random.default_rng(1).normal(size=GRID.shape).astype("float32")
    for name, (make, _, derivative) in CASES.items():
        grad = quantizer_grad(make(), GRID, upstream, jit=jit)
        np.testing.assert_allclose(
            grad, upstream * derivative(GRID), rtol=1e-5, atol=1e-6, err_msg=name
        )


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_gradient_is_finite_at_zero_and_extremes(jit):
    for name, (make, _, derivative) in CASES.items():
        grad = quantizer_grad(make(), EXTREMES, jit=jit)
        assert np.all(np.isfinite(grad)), (name, grad)
        np.testing.assert_allclose(
            grad, derivative(EXTREMES.astype("float64")), atol=1e-6, err_msg=name
        )


def test_dorefa_weights_mode_matches_larq_forward_and_its_gradient():
    x = np.random.default_rng(2).normal(size=(7, 5)).astype("float32")
    upstream = np.random.default_rng(3).normal(size=x.shape).astype("float32")
    quantizer = DoReFa(k_bit=3, mode="weights")

    def unit(w):
        t = np.tanh(w)
        return t / (2.0 * np.max(np.abs(t))) + 0.5

    got = keras.ops.convert_to_numpy(quantizer(x))
    np.testing.assert_allclose(got, 2.0 * np.round(unit(x) * 7.0) / 7.0 - 1.0, atol=1e-6)
    # Straight through the rounding: the gradient of sum(upstream * (2 unit(x) - 1)).
    want = numerical_grad(lambda w: float(np.sum(upstream * (2.0 * unit(w) - 1.0))), x, eps=1e-6)[0]
    np.testing.assert_allclose(quantizer_grad(quantizer, x, upstream), want, atol=1e-4)


def dorefa_weights_grad(x, upstream, stop_max_gradient):
    """d/dx sum(upstream * (2 w - 1)), w = divide_no_nan(t, 2 max|t|) + 1/2, t = tanh(x),
    in closed form; `stop_max_gradient` treats max|t| as a constant (Larq's rule)."""
    t = np.tanh(np.asarray(x, "float64"))
    g = 2.0 * np.asarray(upstream, "float64")
    peak = np.max(np.abs(t))
    if peak == 0.0:
        return np.zeros_like(t)
    dt = g / (2.0 * peak)
    if not stop_max_gradient:
        at = np.unravel_index(np.argmax(np.abs(t)), t.shape)
        dt[at] -= np.sign(t[at]) * np.sum(g * t) / (2.0 * peak**2)
    return dt * (1.0 - t**2)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("stop_max_gradient", [False, True], ids=["through_max", "larq"])
def test_dorefa_weights_gradient_matches_each_rule(stop_max_gradient, jit):
    rng = np.random.default_rng(4)
    quantizer = DoReFa(k_bit=2, mode="weights", stop_max_gradient=stop_max_gradient)
    for x in (rng.normal(size=(3, 4)), -np.abs(rng.normal(size=(6,))), np.zeros((3, 4))):
        x = x.astype("float32")
        upstream = rng.normal(size=x.shape).astype("float32")
        grad = quantizer_grad(quantizer, x, upstream, jit=jit)
        want = dorefa_weights_grad(x, upstream, stop_max_gradient)
        np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-6, err_msg=str(x))
    # The two rules differ at the largest |weight| only (so the cases above tell them apart).
    x = np.array([0.3, -1.2, 0.5], "float32")
    other = DoReFa(k_bit=2, mode="weights", stop_max_gradient=not stop_max_gradient)
    grads = [quantizer_grad(q, x, jit=jit) for q in (quantizer, other)]
    assert abs(grads[0][1] - grads[1][1]) > 0.03
    np.testing.assert_allclose(grads[0][[0, 2]], grads[1][[0, 2]], rtol=1e-6)


def test_dorefa_weights_mode_on_an_all_zero_kernel():
    """Larq's divide_no_nan: forward 2 round(3/2) / 3 - 1 = 1/3, gradient exactly 0."""
    for flag in (False, True):
        quantizer = DoReFa(k_bit=2, mode="weights", stop_max_gradient=flag)
        zeros = np.zeros((3, 4), "float32")
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(quantizer(zeros)), 1.0 / 3.0, rtol=1e-6
        )
        np.testing.assert_array_equal(quantizer_grad(quantizer, zeros), np.zeros((3, 4)))


def test_bfloat16_inputs_keep_their_dtype_and_exact_signs():
    x = keras.ops.cast(np.array([-1.5, 0.0, 0.25], "float32"), "bfloat16")
    for name in ("ste_sign", "approx_sign", "swish_sign", "reste"):
        y = quantizers.get(name)(x)
        assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(keras.ops.cast(y, "float32")), [-1.0, 1.0, 1.0]
        )


def test_get_by_name():
    for identifier, cls in [
        ("ste_sign", SteSign),
        ("SteSign", SteSign),
        ("approx_sign", ApproxSign),
        ("swish_sign", SwishSign),
        ("ste_heaviside", SteHeaviside),
        ("dorefa", DoReFa),
        ("DoReFa", DoReFa),
    ]:
        assert type(quantizers.get(identifier)) is cls, identifier


def test_serialize_deserialize_and_get_pass_through():
    for quantizer in (
        SteSign(clip_value=0.7),
        SwishSign(beta=3.0),
        DoReFa(k_bit=3, mode="weights"),
        DoReFa(k_bit=2, mode="weights", stop_max_gradient=True),
        SteHeaviside(clip_value=None),
    ):
        config = quantizers.serialize(quantizer)
        revived = quantizers.get(config)
        assert type(revived) is type(quantizer)
        assert revived.get_config() == quantizer.get_config()
        revived = keras.saving.deserialize_keras_object(config)
        assert type(revived) is type(quantizer)
    instance = SteSign()
    assert quantizers.get(instance) is instance
    assert quantizers.get(None) is None
    assert quantizers.get(keras.ops.tanh) is keras.ops.tanh


def test_precision():
    assert SteSign().precision == 1 and DoReFa(k_bit=3).precision == 3


def test_bad_arguments_name_the_argument():
    for make, argument in [
        (lambda: quantizers.get("no_such"), "no_such"),
        (lambda: quantizers.get(3), "3"),
        (lambda: SteSign(clip_value=-1.0), "`clip_value`"),
        (lambda: SwishSign(beta=0), "`beta`"),
        (lambda: DoReFa(k_bit=0), "`k_bit`"),
        (lambda: DoReFa(mode="both"), "`mode`"),
        (lambda: DoReFa(stop_max_gradient="yes"), "`stop_max_gradient`"),
    ]:
        with pytest.raises(ValueError, match=argument):
            make()
