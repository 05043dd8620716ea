"""ReSTE's two indicators, estimating error and gradient stability (Wu et al., ICCV 2023).

The paper explains the choice of `o` by a trade-off: the estimating error
`e = || f(w) - sign(w) ||_2` of the equivalent forward `f(x) = sign(x) |x|^(1/o)`
falls as `o` grows, while the gradient stability `s = var(|dL/dw|)` of the
latent weights grows (the gradients near 0 get large). Both are summed over the
binarized layers whose kernel quantizer is ReSTE, at the quantizer's current `o`
(the reference code evaluates `e` at the final `o`, which hides the trade-off).
"""

import keras
import numpy as np
from keras import ops

from keras_gradstab import backend
from keras_gradstab.quantizers.reste import ReSTE


def _reste_layers(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(getattr(layer, "kernel_quantizer", None), ReSTE)
        and hasattr(layer, "_latent_kernel")
    ]


def estimating_error(model):
    """Sum over ReSTE-binarized layers of ||sign(w)|w|^(1/o) - sign(w)||_2 (current o).

    Args:
        model: a built model with `keras_gradstab.layers` quantized by `ReSTE`.

    Returns:
        The estimating error, a Python float (0.0 without such layers).

    Example:

    >>> import keras
    >>> from keras_gradstab.diagnostics import estimating_error
    >>> from keras_gradstab.layers import QuantDense
    >>> model = keras.Sequential([keras.Input((3,)), QuantDense(
    ...     2, kernel_quantizer="reste", kernel_initializer=keras.initializers.Constant(0.125))])
    >>> round(estimating_error(model), 4)  # sqrt(6) * (1 - 0.125 ** (1/3)) at o = 3
    1.2247

    References:
        - *Estimator Meets Equilibrium Perspective: A Rectified Straight Through
          Estimator for Binary Neural Networks Training*, X.-M. Wu, D. Zheng, Z.
          Liu, W.-S. Zheng, ICCV 2023. <https://arxiv.org/abs/2308.06689>
    """
    total = 0.0
    for layer in _reste_layers(model):
        kernel = ops.convert_to_tensor(layer._latent_kernel())
        quantizer = layer.kernel_quantizer
        difference = quantizer.equivalent_forward(kernel) - ops.where(kernel >= 0, 1.0, -1.0)
        total += float(ops.convert_to_numpy(ops.sqrt(ops.sum(ops.square(difference)))))
    return total


def gradient_stability(model, x, y, loss=None):
    """Sum over ReSTE-binarized layers of var(|dL/dw|) of the latent kernels on (x, y).

    Args:
        model: a built model with `keras_gradstab.layers` quantized by `ReSTE`.
        x: a batch of inputs.
        y: its targets.
        loss: the loss (a Keras loss or callable `(y_true, y_pred)`); defaults to
            the model's compiled loss.

    Returns:
        The gradient stability, a Python float (0.0 without such layers).

    Example:

    With both latent weights at 0.5 the forward kernel is sign(w) = [1, 1], so
    the prediction for x = [1, 3] is 4 and dL/dw_i = 2 * 4 * x_i * g'(0.5), where
    ReSTE's g'(0.5) = (1/3) * 0.5 ** (-2/3) at o = 3: the variance of
    |dL/dw| = [4.233, 12.699] is 4.233 ** 2.

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.diagnostics import gradient_stability
    >>> from keras_gradstab.layers import QuantDense
    >>> model = keras.Sequential([keras.Input((2,)), QuantDense(
    ...     1, kernel_quantizer="reste", use_bias=False,
    ...     kernel_initializer=keras.initializers.Constant(0.5))])
    >>> x, y = np.array([[1.0, 3.0]], "float32"), np.zeros((1, 1), "float32")
    >>> round(gradient_stability(model, x, y, loss="mse"), 2)
    17.92

    References:
        - *Estimator Meets Equilibrium Perspective: A Rectified Straight Through
          Estimator for Binary Neural Networks Training*, X.-M. Wu, D. Zheng, Z.
          Liu, W.-S. Zheng, ICCV 2023. <https://arxiv.org/abs/2308.06689>
    """
    layers = _reste_layers(model)
    if not layers:
        return 0.0
    loss = loss if loss is not None else getattr(model, "loss", None)
    if loss is None:
        raise ValueError("`loss` is needed: pass it, or compile the model with a loss first.")
    loss = keras.losses.get(loss) if isinstance(loss, str) else loss
    kernels = [layer._latent_kernel() for layer in layers]

    def loss_of(*values):
        # The model runs with its latent kernels replaced by the traced values.
        with keras.StatelessScope(state_mapping=list(zip(kernels, values))):
            return ops.mean(loss(y, model(x, training=False)))

    _, grads = backend.value_and_grad(loss_of, [k.value for k in kernels])
    return float(sum(np.var(np.abs(np.asarray(ops.convert_to_numpy(g)))) for g in grads))


class ReSTEIndicators(keras.callbacks.Callback):
    """Logs ReSTE's estimating error and gradient stability at the end of each epoch.

    Adds `reste_estimating_error` and `reste_gradient_stability` to the epoch logs
    (so they reach the History, CSVLogger and TensorBoard like any metric),
    computed with each quantizer's current `o` (use it after `ReSTESchedule` in
    the callback list), the gradient on a fixed batch `(x, y)`.

    Args:
        x: a batch of inputs for the gradient.
        y: its targets.
        loss: the loss for the gradient; defaults to the model's compiled loss.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.callbacks import ReSTESchedule
    >>> from keras_gradstab.diagnostics import ReSTEIndicators
    >>> from keras_gradstab.layers import QuantDense
    >>> model = keras.Sequential([keras.Input((4,)), QuantDense(2, kernel_quantizer="reste")])
    >>> model.compile("sgd", "mse")
    >>> x, y = np.ones((8, 4), "float32"), np.ones((8, 2), "float32")
    >>> history = model.fit(x, y, epochs=2, verbose=0,
    ...                     callbacks=[ReSTESchedule(), ReSTEIndicators(x, y)])
    >>> sorted(k for k in history.history if k.startswith("reste_"))
    ['reste_estimating_error', 'reste_gradient_stability', 'reste_o']

    References:
        - *Estimator Meets Equilibrium Perspective: A Rectified Straight Through
          Estimator for Binary Neural Networks Training*, X.-M. Wu, D. Zheng, Z.
          Liu, W.-S. Zheng, ICCV 2023. <https://arxiv.org/abs/2308.06689>
    """

    def __init__(self, x, y, loss=None):
        super().__init__()
        self.x = x
        self.y = y
        self.loss = loss

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()
        logs["reste_estimating_error"] = estimating_error(self.model)
        logs["reste_gradient_stability"] = gradient_stability(self.model, self.x, self.y, self.loss)
