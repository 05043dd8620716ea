"""NumPy reference of the Lorth regularizer, shared by the constraint and regularizer tests."""

import itertools

import numpy as np


def numpy_lorth(kernel, strides):
    """Lorth from its definition: sum over strided shifts u of ||R_u - delta_u I||^2,
    R_u[m, m'] = sum_j <K[j + S u, :, m], K[j, :, m']>, minus max(0, M - prod(S) C)."""
    kernel = kernel.astype("float64")
    rank = kernel.ndim - 2
    ksize, (c, m) = kernel.shape[:rank], kernel.shape[-2:]
    ranges = [range(-((k - 1) // s), (k - 1) // s + 1) for k, s in zip(ksize, strides)]
    total = 0.0
    for u in itertools.product(*ranges):
        r = np.zeros((m, m))
        for j in itertools.product(*[range(k) for k in ksize]):
            shifted = tuple(a + s * b for a, s, b in zip(j, strides, u))
            if all(0 <= v < k for v, k in zip(shifted, ksize)):
                r += kernel[shifted].T @ kernel[j]
        if not any(u):
            r -= np.eye(m)
        total += np.sum(r**2)
    return total - max(0, m - int(np.prod(strides)) * c)
