"""The library's matrix-building kernels against NumPy, repeated in one process.

Run by `tests/ops/test_products_in_subprocess.py` with TensorFlow's defaults
(oneDNN on), at shapes with size-1 batch axes: a kernel that reaches a broken
broadcasting batch matmul gives wrong values or takes the process down.
Usage: python tests/products_worker.py REPEATS; prints "ok" when every check passes.
"""

import sys

import keras
import numpy as np
from keras import ops
from plstm_reference import plstm_1d_reference, plstm_2d_reference

import keras_gradstab as kg

RNG = np.random.default_rng(0)


def numpy_of(x):
    return np.asarray(ops.convert_to_numpy(x), "float64")


def check(name, got, want, atol):
    got, want = numpy_of(got), np.asarray(want, "float64")
    if got.shape != want.shape or not np.allclose(got, want, atol=atol, rtol=0):
        error = np.abs(got - want).max() if got.shape == want.shape else "shape"
        raise AssertionError(f"{name}: {got.shape} vs {want.shape}, max error {error}")


def np_cayley(a):
    eye = np.eye(a.shape[-1])
    return np.linalg.solve(eye + a, eye - a)


def np_orthogonal_kernel(layer):
    """The layer's kernel from its weights: Cayley factor, then [P, I - P] taps."""
    rank = len(layer.kernel_size)
    a = numpy_of(layer.orthogonal)
    size = a.shape[-1]
    kernel = np_cayley(a - a.T).reshape((1,) * rank + (size, size))
    if layer.projectors is not None:
        p = numpy_of(layer.projectors)
        u = np.stack([np_cayley(s - s.T) for s in p])[..., : (size + 1) // 2]
        projector = u @ np.swapaxes(u, -1, -2)
        index = 0
        for axis, k in enumerate(layer.kernel_size):
            for _ in range(k - 1):
                after, before = [(0, 0)] * (rank + 2), [(0, 0)] * (rank + 2)
                after[axis], before[axis] = (0, 1), (1, 0)
                kernel = np.pad(kernel, after) @ projector[index] + np.pad(kernel, before) @ (
                    np.eye(size) - projector[index]
                )
                index += 1
    return kernel[..., : layer.reshaped_channels, : layer.filters]


def randomize(layer, scale=0.5):
    for w in layer.weights:
        w.assign(RNG.normal(scale=scale, size=w.shape).astype("float32"))


def orthogonal_convolutions():
    cases = [
        (kg.layers.OrthogonalConv2D(16, 3), (8, 8, 8, 1)),
        (kg.layers.OrthogonalConv2D(8, 2, strides=2), (2, 6, 6, 2)),
        (kg.layers.OrthogonalConv2D(8, (1, 3)), (1, 5, 5, 4)),
        (kg.layers.OrthogonalConv1D(6, 4), (2, 10, 2)),
        (kg.layers.OrthogonalConv1D(8, 2, strides=2), (3, 8, 4)),
    ]
    for layer, shape in cases:
        x = RNG.normal(size=shape).astype("float32")
        layer.build(shape)
        randomize(layer)
        layer.bias.assign(np.zeros(layer.bias.shape, "float32"))
        name = f"{type(layer).__name__}{layer.kernel_size}/{layer.strides}"
        check(name + " kernel", layer.orthogonal_kernel(), np_orthogonal_kernel(layer), 1e-4)
        # Circular padding, at least as many outputs as inputs: an isometry.
        y = numpy_of(layer(x))
        norms = np.sqrt((y**2).reshape(len(x), -1).sum(-1))
        check(
            name + " norms",
            norms,
            np.sqrt((x.astype("float64") ** 2).reshape(len(x), -1).sum(-1)),
            1e-3,
        )


def gates(*shape):
    return RNG.uniform(0.2, 1.0, size=shape).astype("float32")


def plstm():
    for batch in (1, 2):
        q, k = (RNG.normal(size=(batch, 7, 4)).astype("float32") for _ in range(2))
        v = RNG.normal(size=(batch, 7, 3)).astype("float32")
        g = [gates(batch, 7) for _ in range(4)]
        for chunk in (1, 3, 7):
            got = kg.ops.plstm_1d(q, k, v, *g, chunk_size=chunk, form="parallel")
            check(
                f"plstm_1d B={batch} chunk={chunk}", got, plstm_1d_reference(q, k, v, *g)[0], 1e-4
            )
        q, k = (RNG.normal(size=(batch, 4, 5, 4)).astype("float32") for _ in range(2))
        v = RNG.normal(size=(batch, 4, 5, 2)).astype("float32")
        g = [gates(batch, 4, 5) for _ in range(9)]
        want = plstm_2d_reference(q, k, v, *g)
        for chunk in (1, 2, 3):
            got = kg.ops.plstm_2d(q, k, v, *g, chunk_size=chunk, form="parallel")
            check(f"plstm_2d B={batch} chunk={chunk}", got, want, 1e-4)


def cayley_and_neumann():
    x = RNG.normal(size=(2, 1, 8, 8)).astype("float32")
    a = x - np.swapaxes(x, -1, -2)
    check("cayley [2, 1, 8, 8]", kg.ops.cayley(a), np_cayley(a.astype("float64")), 1e-4)
    m = (0.05 * x).astype("float32")
    want, power = np.zeros(m.shape), np.broadcast_to(np.eye(8), m.shape)
    for _ in range(13):
        want, power = want + power, -m.astype("float64") @ power
    check("neumann_inverse [2, 1, 8, 8]", kg.ops.neumann_inverse(m, terms=12), want, 1e-5)


def quantized_and_jacobian():
    layer = kg.layers.QuantDense(16, input_quantizer="ste_sign", kernel_quantizer="ste_sign")
    x = RNG.normal(size=(2, 1, 3, 16)).astype("float32")
    layer.build(x.shape)
    randomize(layer)
    want = np.sign(x) @ np.sign(numpy_of(layer.kernel)) + numpy_of(layer.bias)
    check("QuantDense [2, 1, 3, 16]", layer(x), want, 1e-4)

    dense = kg.layers.OrthogonalDense(8)
    x = RNG.normal(size=(2, 1, 3, 8)).astype("float32")
    dense.build(x.shape)
    randomize(dense)
    kernel = numpy_of(dense.kernel)
    check("OrthogonalDense [2, 1, 3, 8]", dense(x), x @ kernel + numpy_of(dense.bias), 1e-4)
    # An orthogonal map has J^T J = I: the penalty is 0.
    penalty = kg.regularizers.JacobianOrthogonality(num_probes=4, seed=0)(dense, x)
    check("JacobianOrthogonality of an orthogonal map", penalty, 0.0, 1e-5)


def broadcast_products():
    """Rank-4 stacks times matrices, some with a size-1 batch axis."""
    for shape in [(2, 1, 16, 16), (3, 3, 16, 16), (2, 2, 32, 32), (1, 2, 16, 16), (3, 1, 8, 8)]:
        a = RNG.standard_normal(shape).astype("float32")
        b = RNG.standard_normal(shape[-2:]).astype("float32")
        for _ in range(5):
            check(
                f"matmul {shape} x {shape[-2:]}", kg.ops.matmul(a, b), a.astype("float64") @ b, 1e-4
            )
            check(
                f"matmul {shape[-2:]} x {shape}", kg.ops.matmul(b, a), b.astype("float64") @ a, 1e-4
            )


def main(repeats):
    for _ in range(repeats):
        broadcast_products()
        orthogonal_convolutions()
        plstm()
        cayley_and_neumann()
        quantized_and_jacobian()
    print(f"ok ({keras.config.backend()}, {repeats} rounds)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
