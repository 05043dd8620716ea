"""modReLU, the activation of unitary and orthogonal RNNs (Arjovsky, Shah & Bengio, 2016)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gradstab")
def modrelu(x, bias=0.0):
    """modReLU: `relu(|x| + bias) * sign(x)`.

    The real form of the activation of unitary RNNs (Arjovsky, Shah & Bengio,
    2016), used by scoRNN, NC-GRU and ENRNN: it keeps the sign of each unit and
    shrinks its magnitude by a learned offset `bias` (units whose `|x| + bias` is
    negative output 0; NaN in `x` or `bias` gives NaN). With `bias=0` it is the
    identity, so it preserves the norm that an orthogonal recurrent matrix
    preserves. The recurrent cells of
    `keras_gradstab.layers` hold `bias` as a trainable weight per unit
    (`modrelu_bias`).

    Args:
        x: input tensor.
        bias: the offset, a scalar or a tensor broadcastable to `x` (usually one
            value per unit, shape `[units]`).

    Returns:
        A tensor of the shape and dtype of `x`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.activations import modrelu
    >>> x = np.array([-2.0, 0.0, 0.5, 2.0], "float32")
    >>> [float(v) for v in keras.ops.convert_to_numpy(modrelu(x, bias=-1.0))]
    [-1.0, 0.0, 0.0, 1.0]

    References:
        - *Unitary Evolution Recurrent Neural Networks*, M. Arjovsky, A. Shah, Y.
          Bengio, ICML 2016. <https://arxiv.org/abs/1511.06464>
    """
    x = ops.convert_to_tensor(x)
    bias = ops.cast(bias, x.dtype)
    # `where(|x| + bias <= 0, 0, x + bias * sign(x))` is relu(|x| + bias) * sign(x)
    # bit for bit (|x| sign(x) = x), with the same gradients; in a scan's backward
    # pass on JAX/XLA CPU it keeps fewer residuals (NCGRU's training step ~20%
    # faster, benchmarks/RESULTS.md). The test is `<= 0`, not `> 0`, so that a NaN
    # in `x` or `bias` (every comparison with NaN is false) comes out as NaN.
    return ops.where(ops.abs(x) + bias <= 0, ops.zeros_like(x), x + bias * ops.sign(x))
