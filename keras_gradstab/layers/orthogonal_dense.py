"""Dense layers with exactly orthogonal weights, and norm-preserving activation layers."""

import keras
from keras import ops

from keras_gradstab import activations
from keras_gradstab.ops.cayley import cayley
from keras_gradstab.ops.matmul import matmul


@keras.saving.register_keras_serializable(package="keras_gradstab")
class OrthogonalDense(keras.layers.Layer):
    """A dense layer whose kernel is orthogonal by construction, at every step.

    The kernel is parametrized by an unconstrained square matrix M of size
    `k = max(input_dim, units)`: `Q = cayley((M - M^T) / 2)` is orthogonal (the
    Cayley transform of a skew-symmetric matrix), and the kernel is its top-left
    `input_dim x units` block. For `input_dim >= units` the kernel's columns are
    orthonormal (`W^T W = I`, an isometry onto the output when square); for
    `input_dim < units` its rows are (`x -> x W` preserves norms). Gradient
    descent on M keeps the kernel orthogonal up to rounding, with no projection
    step. With `activation` `"abs"`, `"group_sort"` or `"max_min"`, a stack of these
    layers has an orthogonal input-output Jacobian almost everywhere (Massucco,
    Murari & Schonlieb, 2025).

    Args:
        units: output size, a positive integer.
        activation: activation applied after the affine map: one of ours
            (`"abs"`, `"group_sort"`, `"max_min"`), any Keras activation, or `None`.
        use_bias: whether to add a bias.
        skew_initializer: initializer of M. The default, normal with standard
            deviation 1, spreads the eigen-angles of Q over the circle.
        bias_initializer: initializer of the bias.

    Call arguments:
        inputs: tensor `[..., input_dim]`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> import keras_gradstab as kg
    >>> layer = kg.layers.OrthogonalDense(4, activation="abs")
    >>> y = layer(np.ones((2, 4), "float32"))
    >>> w = keras.ops.convert_to_numpy(layer.kernel)
    >>> bool(np.allclose(w.T @ w, np.eye(4), atol=1e-5))
    True

    References:
        - E. Massucco, D. Murari, C.-B. Schönlieb, orthogonal-Jacobian networks,
          2025. <https://arxiv.org/abs/2508.02882>
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        skew_initializer=None,
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"`units` must be a positive integer; received {units!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.skew_initializer = keras.initializers.get(
            skew_initializer or keras.initializers.RandomNormal(stddev=1.0)
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError("OrthogonalDense needs a known last input dimension.")
        self.input_dim = int(input_dim)
        size = max(self.input_dim, self.units)
        self.skew = self.add_weight(
            name="skew", shape=(size, size), initializer=self.skew_initializer, autocast=False
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units,), initializer=self.bias_initializer
            )

    @property
    def kernel(self):
        """The orthogonal kernel `[input_dim, units]`, built from the parameters."""
        m = ops.convert_to_tensor(self.skew)
        q = cayley(0.5 * (m - ops.transpose(m)))
        return q[: self.input_dim, : self.units]

    def call(self, inputs):
        kernel = ops.cast(self.kernel, inputs.dtype)
        outputs = matmul(inputs, kernel)
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, inputs.dtype)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "skew_initializer": keras.initializers.serialize(self.skew_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


@keras.saving.register_keras_serializable(package="keras_gradstab")
class GroupSort(keras.layers.Layer):
    """Sorts consecutive groups of `group_size` units (see `activations.group_sort`).

    Args:
        group_size: units per group; must divide the axis size.
        axis: the axis of the units.

    Call arguments:
        inputs: a tensor.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> import keras_gradstab as kg
    >>> y = kg.layers.GroupSort(2)(np.array([[2.0, 1.0]], "float32"))
    >>> keras.ops.convert_to_numpy(y).tolist()
    [[1.0, 2.0]]

    References:
        - *Sorting Out Lipschitz Function Approximation*, C. Anil, J. Lucas, R.
          Grosse, ICML 2019. <https://arxiv.org/abs/1811.05381>
    """

    def __init__(self, group_size=2, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
            raise ValueError(f"`group_size` must be an integer >= 1; received {group_size!r}.")
        self.group_size = group_size
        self.axis = axis

    def build(self, input_shape):
        size = input_shape[self.axis]
        if size is not None and size % self.group_size:
            raise ValueError(
                f"GroupSort(group_size={self.group_size}) needs an axis size that is a "
                f"multiple of it; received {size}."
            )

    def call(self, inputs):
        return activations.group_sort(inputs, self.group_size, self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size, "axis": self.axis}


@keras.saving.register_keras_serializable(package="keras_gradstab")
class MaxMin(keras.layers.Layer):
    """`[max(a, b), min(a, b)]` of the two halves of the units (see `activations.max_min`).

    Args:
        axis: the axis of the units; its size must be even.

    Call arguments:
        inputs: a tensor.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> import keras_gradstab as kg
    >>> y = kg.layers.MaxMin()(np.array([[1.0, 2.0]], "float32"))
    >>> keras.ops.convert_to_numpy(y).tolist()
    [[2.0, 1.0]]

    References:
        - *Norm-preserving Orthogonal Permutation Linear Unit Activation Functions
          (OPLU)*, A. Chernodub, D. Nowicki, 2016.
        - *Sorting Out Lipschitz Function Approximation*, C. Anil, J. Lucas, R.
          Grosse, ICML 2019. <https://arxiv.org/abs/1811.05381>
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def build(self, input_shape):
        size = input_shape[self.axis]
        if size is not None and size % 2:
            raise ValueError(f"MaxMin needs an even axis size; received {size}.")

    def call(self, inputs):
        return activations.max_min(inputs, self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
