"""The scaled Cayley transform and the truncated Neumann series for (I + M)^-1."""

from keras import ops

from keras_gradstab.ops._checks import require_floating, require_int, require_square


def cayley(a, d=None):
    """The scaled Cayley transform W = (I + A)^-1 (I - A) D.

    For skew-symmetric A (A^T = -A) and D a diagonal of +-1, W is orthogonal, and
    every orthogonal matrix without eigenvalue -1 in its unscaled part is reached
    (Helfrich, Willmott & Ye, "Orthogonal recurrent neural networks with scaled
    Cayley transform", ICML 2018). W is computed by one linear solve, not an
    explicit inverse; gradients flow to A through the solve. A NaN or inf entry
    of A gives a W of NaN.

    Args:
        a: skew-symmetric matrix `[..., n, n]`, floating dtype.
        d: optional diagonal of D, shape `[n]` (or broadcastable to
            `a.shape[:-1]`); usually +-1 entries. Omitted means D = I.

    Returns:
        W, with the shape of `a`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab import ops
    >>> x = np.random.default_rng(0).normal(size=(4, 4)).astype("float32")
    >>> w = keras.ops.convert_to_numpy(ops.cayley(x - x.T, d=np.array([1, 1, -1, 1], "float32")))
    >>> bool(np.allclose(w.T @ w, np.eye(4), atol=1e-5))
    True

    References:
        - *Orthogonal Recurrent Neural Networks with Scaled Cayley Transform*, K.
          Helfrich, D. Willmott, Q. Ye, ICML 2018.
          <https://arxiv.org/abs/1707.09520>
    """
    a = ops.convert_to_tensor(a)
    require_floating("a", a)
    require_square("a", a)
    n = a.shape[-1]
    eye = ops.eye(n, dtype=a.dtype)
    w = solve_identity_plus(a, eye - a)
    if d is not None:
        d = ops.cast(ops.convert_to_tensor(d), a.dtype)
        if len(d.shape) == 0 or d.shape[-1] != n:
            raise ValueError(
                f"`d` must hold the {n} diagonal entries of D (shape [{n}]); received "
                f"shape {tuple(d.shape)}."
            )
        # W D scales column j of W by d_j.
        w = w * ops.expand_dims(d, -2)
    return w


def solve_identity_plus(a, b):
    """(I + A)^-1 B by one solve, for A `[..., n, n]`; all NaN where A is not finite.

    I + A is invertible for every finite skew-symmetric A. A NaN or inf entry of A
    gives a result of NaN on every backend (TensorFlow's solve would raise instead).
    """
    finite = ops.all(ops.isfinite(a), axis=(-2, -1), keepdims=True)
    eye = ops.eye(a.shape[-1], dtype=a.dtype)
    x = ops.solve(eye + ops.where(finite, a, ops.zeros_like(a)), b)
    return ops.where(finite, x, ops.full_like(x, float("nan")))


def neumann_inverse(m, terms):
    """The truncated Neumann series sum_{j=0}^{terms} (-M)^j, approximating (I + M)^-1.

    The series converges when the spectral radius of M is below 1; its error is
    then of order ||M||^(terms + 1). It uses matrix products only (Horner's rule,
    `terms` products), which is what makes it cheaper than a solve on
    accelerators and for large n.

    Args:
        m: matrix `[..., n, n]`, floating dtype.
        terms: the highest power kept, an integer >= 0 (0 gives I).

    Returns:
        The partial sum, with the shape of `m`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab import ops
    >>> m = np.array([[0.0, 0.1], [-0.1, 0.0]], "float32")
    >>> approx = keras.ops.convert_to_numpy(ops.neumann_inverse(m, terms=8))
    >>> bool(np.allclose(approx, np.linalg.inv(np.eye(2) + m), atol=1e-6))
    True

    References:
        - *Orthogonal Gated Recurrent Unit with Neumann-Cayley Transformation*, E.
          Mucllari, V. Zadorozhnyy, C. Pospisil, D. Nguyen, Q. Ye, Neural
          Computation, 2024. <https://arxiv.org/abs/2208.06496>
    """
    m = ops.convert_to_tensor(m)
    require_floating("m", m)
    require_square("m", m)
    require_int("terms", terms, minimum=0)
    eye = ops.eye(m.shape[-1], dtype=m.dtype)
    total = ops.broadcast_to(eye, m.shape)
    for _ in range(terms):
        total = eye - m @ total  # `@` keeps float64 (keras.ops.matmul would not on torch)
    return total
