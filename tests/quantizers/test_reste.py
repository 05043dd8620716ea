"""ReSTE: forward sign, the paper's gradient values, o = 1 as clipped STE, finiteness."""

import harness
import keras
import numpy as np
import pytest
from quantizer_grads import quantizer_grad

from keras_gradstab import quantizers
from keras_gradstab.quantizers import ReSTE, SteSign

JUST_ABOVE = float(np.nextafter(np.float32(0.1), np.float32(1)))


def reste_grad_reference(x, o, threshold=1.5, rectify=0.1):
    """The paper's piecewise derivative in float64 NumPy (zones decided in float32)."""
    a32 = np.abs(np.asarray(x, "float32"))
    a = a32.astype("float64")
    slope = (1.0 / o) * np.maximum(a, rectify) ** ((1.0 - o) / o)
    slope = np.where(a32 <= np.float32(rectify), rectify ** (1.0 / o) / rectify, slope)
    return np.where(a32 <= np.float32(threshold), slope, 0.0)


# (o, {|x|: gradient}) as Wu et al. (2023) tabulate them.
PAPER_VALUES = [
    (
        3.0,
        {
            0.0: 4.6416,
            0.05: 4.6416,
            0.1: 4.6416,
            JUST_ABOVE: 1.5472,
            1.0: 0.3333,
            1.5: 0.2544,
            1.6: 0.0,
            10.0: 0.0,
        },
    ),
    (2.0, {0.0: 3.1623, 0.1: 3.1623, JUST_ABOVE: 1.5811, 1.0: 0.5, 1.5: 0.4082, 2.0: 0.0}),
]


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("o, values", PAPER_VALUES, ids=["o=3", "o=2"])
def test_paper_gradient_values(o, values, jit):
    magnitudes = np.array(list(values), "float32")
    x = np.concatenate([magnitudes, -magnitudes])
    want = np.concatenate([list(values.values())] * 2)
    grad = quantizer_grad(ReSTE(o=o), x, jit=jit)
    np.testing.assert_allclose(grad, want, atol=1e-4, rtol=0)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_gradient_matches_reference_on_a_grid_and_scales_upstream(jit):
    x = np.linspace(-2.0, 2.0, 81).astype("float32")
    upstream = np.random.default_rng(0).normal(size=x.shape).astype("float32")
    for o in (1.0, 1.7, 3.0):
        grad = quantizer_grad(ReSTE(o=o), x, upstream, jit=jit)
        np.testing.assert_allclose(
            grad, upstream * reste_grad_reference(x, o), rtol=1e-5, atol=1e-6
        )


def test_o_equal_1_is_the_clipped_ste():
    for threshold in (1.0, 1.5):
        x = np.concatenate([np.linspace(-3, 3, 121), [0.0, 0.1, -0.1, threshold, -threshold]])
        reste = quantizer_grad(ReSTE(o=1.0, threshold=threshold), x)
        ste = quantizer_grad(SteSign(clip_value=threshold), x)
        np.testing.assert_array_equal(reste, ste)
        np.testing.assert_array_equal(ste, (np.abs(x) <= threshold).astype("float32"))


def test_forward_is_exact_sign_with_sign_zero_plus_one():
    x = np.array([-2.0, -1e-30, -0.0, 0.0, 1e-30, 0.3, 7.0], "float32")
    got = keras.ops.convert_to_numpy(ReSTE(o=2.5)(x))
    np.testing.assert_array_equal(got, [-1, -1, 1, 1, 1, 1, 1])


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_gradient_is_finite_at_zero_and_extremes(jit):
    x = np.array([0.0, -0.0, 1e-38, -1e-38, 1e-45, 3e38, -3e38], "float32")
    for o in (1.0, 3.0, 50.0):
        grad = quantizer_grad(ReSTE(o=o), x, jit=jit)
        assert np.all(np.isfinite(grad)), (o, grad)
        np.testing.assert_allclose(grad[:5], reste_grad_reference(0.0, o), rtol=1e-5)


def test_assigning_o_changes_the_gradient():
    quantizer = ReSTE(o=1.0)
    x = np.array([0.5], "float32")
    before = quantizer_grad(quantizer, x)
    quantizer.o.assign(3.0)
    after = quantizer_grad(quantizer, x)
    np.testing.assert_allclose(before, [1.0], rtol=1e-6)
    np.testing.assert_allclose(after, reste_grad_reference(x, 3.0), rtol=1e-5)


def test_equivalent_forward_matches_numpy():
    x = np.array([-2.0, -0.3, 0.0, 0.3, 2.0], "float32")
    got = keras.ops.convert_to_numpy(ReSTE(o=3.0).equivalent_forward(x))
    np.testing.assert_allclose(got, np.where(x >= 0, 1, -1) * np.abs(x) ** (1 / 3), rtol=1e-6)


def test_config_round_trip_by_name_and_o_is_a_non_trainable_variable():
    quantizer = quantizers.get("reste")
    assert isinstance(quantizer, ReSTE) and quantizer.initial_o == 3.0
    assert quantizer.trainable_weights == [] and len(quantizer.non_trainable_weights) == 1
    custom = ReSTE(o=2.0, threshold=1.2, rectify=0.05)
    revived = quantizers.deserialize(quantizers.serialize(custom))
    assert isinstance(revived, ReSTE)
    assert revived.get_config() == custom.get_config()
    assert float(keras.ops.convert_to_numpy(revived.o.value)) == 2.0


def test_bad_arguments_name_the_argument():
    for kwargs, argument in [
        ({"o": 0.5}, "`o`"),
        ({"threshold": -1.0}, "`threshold`"),
        ({"rectify": 2.0}, "`rectify`"),
        ({"rectify": 0.0}, "`rectify`"),
    ]:
        with pytest.raises(ValueError, match=argument):
            ReSTE(**kwargs)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_zones_are_exact_in_every_float_format(dtype):
    # The three zones are told apart by sign(|x| - clip(|x|, lower, threshold)) with
    # `lower` the first float above `rectify` in x's dtype: check both ends of every
    # zone in that dtype, against the float64 closed form of the values it holds.
    import ml_dtypes

    np_dtype = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    rectify, threshold = (np.asarray(v, np_dtype) for v in (0.1, 1.5))
    above = [np.nextafter(np.float32(v), np.float32(9)) for v in (rectify, threshold)]
    while np.asarray(above[0], np_dtype) <= rectify:  # the next float in `dtype`
        above[0] = np.nextafter(above[0], np.float32(9))
    while np.asarray(above[1], np_dtype) <= threshold:
        above[1] = np.nextafter(above[1], np.float32(9))
    x = np.asarray(
        [0.0, -float(rectify), float(above[0]), 1.0, float(threshold), -float(above[1]), 7.0],
        np_dtype,
    )
    o = 3.0
    quantizer = ReSTE(o=o)
    got = keras.ops.convert_to_numpy(
        keras.ops.cast(quantizer.derivative(keras.ops.convert_to_tensor(x, dtype=dtype)), "float32")
    )
    a = np.abs(x.astype("float64"))
    inner = float(rectify) ** (1 / o - 1)
    want = np.where(a <= float(rectify), inner, (1 / o) * np.maximum(a, 1e-9) ** (1 / o - 1))
    want = np.where(a <= float(threshold), want, 0.0)
    # Low-precision formats round log2 and exp2: one part in 2^7 (bfloat16).
    tolerance = {"float16": 4e-3, "bfloat16": 3e-2, "float32": 1e-6}[dtype]
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=0)
    assert got[5] == 0.0 and got[6] == 0.0


def test_gradient_is_the_same_under_create_graph():
    # On torch a plain backward pass takes an in-place fast path (base 2); a
    # backward pass that builds a graph (grad mode on) takes the keras.ops form
    # (base e): both must agree to float32 rounding.
    x = np.concatenate([np.linspace(-2, 2, 4001), [0.1, -0.1, 1.5, JUST_ABOVE]]).astype("float32")
    for o in (1.0, 1.7, 3.0):
        quantizer = ReSTE(o=o)
        plain = quantizer_grad(quantizer, x)
        if harness.BACKEND == "torch":
            import torch

            device = keras.ops.convert_to_tensor(0.0).device
            t = torch.tensor(x, device=device, requires_grad=True)
            (graph,) = torch.autograd.grad(quantizer(t).sum(), t, create_graph=True)
            graph = graph.detach().cpu().numpy()
            np.testing.assert_allclose(plain, graph, rtol=1e-6)
            assert np.array_equal(plain == 0, graph == 0)
        else:  # one code path; compiled and eager XLA may differ in the last ulp
            graph = keras.ops.convert_to_numpy(quantizer.derivative(x))
            np.testing.assert_allclose(plain, graph, rtol=1e-6)
        np.testing.assert_allclose(plain, reste_grad_reference(x, o), rtol=1e-5)
