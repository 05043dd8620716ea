"""Per-layer gradient health: gradient norms, activation statistics, Jacobian spectra."""

import math

import keras
import numpy as np
from keras import ops

from keras_gradstab import backend


def _layers(model):
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype="float64")


def _loss_fn(model, loss):
    if loss is None:
        loss = getattr(model, "loss", None) or "mean_squared_error"
    return keras.losses.get(loss)


def _chain_forward(layers, x, training, probes=None):
    h = x
    outputs = []
    for i, layer in enumerate(layers):
        h = layer(h, training=training)
        if probes is not None:
            h = h + probes[i]
        outputs.append(h)
    return outputs


def _graph_outputs(model, layers, x, training):
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    outputs = probe(x, training=training)
    return outputs if isinstance(outputs, (list, tuple)) else [outputs]


def layer_statistics(model, x, y, loss=None, training=False):
    """Per-layer gradient norms and activation statistics on one batch.

    For each layer of `model` (in `model.layers` order): the norm of the
    loss gradient w.r.t. its trainable weights, the norm of the loss gradient
    w.r.t. its output (the backpropagated error signal; only when the layers
    form a chain, as in `Sequential` models and plain stacks), and the mean
    and variance of its output. Gradients come from the backend's autodiff
    through `keras.StatelessScope`, so the model's variables are not touched.

    Args:
        model: a built Keras model.
        x: a batch of inputs (NumPy or tensor).
        y: the matching targets.
        loss: a loss name or callable; default the model's compiled loss, or
            mean squared error.
        training: the `training` flag of the forward pass.

    Returns:
        A list of dicts, one per layer, with keys `layer`, `depth`,
        `weight_grad_norm` (None for layers without trainable weights),
        `output_grad_norm` (None when the layers do not form a chain),
        `activation_mean`, `activation_var`.

    Example:

    >>> import keras, numpy as np
    >>> from keras_gradstab.diagnostics import layer_statistics
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
    ...                           keras.layers.Dense(1)])
    >>> x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    >>> rows = layer_statistics(model, x, np.zeros((16, 1), "float32"))
    >>> [r["depth"] for r in rows], rows[0]["weight_grad_norm"] > 0
    ([0, 1], True)
    """
    if not model.built:
        raise ValueError(
            f"The model {model.name!r} is not built: build it first (call it on a batch, "
            "or start it with `keras.Input`) so that its weights exist."
        )
    layers = _layers(model)
    loss_fn = _loss_fn(model, loss)
    x = ops.convert_to_tensor(x)
    y = ops.convert_to_tensor(y)
    variables = list(model.trainable_variables)
    owner = {}
    for index, layer in enumerate(layers):
        for v in layer.trainable_variables:
            owner.setdefault(id(v), index)

    reference = model(x, training=training)
    try:
        outputs = _chain_forward(layers, x, training)
        is_chain = (
            not isinstance(reference, (list, tuple, dict))
            and tuple(outputs[-1].shape) == tuple(reference.shape)
            and np.allclose(
                _numpy(outputs[-1]), _numpy(reference), atol=1e-5, rtol=1e-4, equal_nan=True
            )
        )
    except Exception:  # noqa: BLE001 - a layer that cannot take the previous output
        is_chain = False
    if not is_chain:
        # Layer outputs of a graph model, for the activation statistics.
        outputs = _graph_outputs(model, layers, x, training)
    probes = [ops.zeros_like(o) for o in outputs] if is_chain else []

    def objective(*args):
        values, probe_values = args[: len(variables)], args[len(variables) :]
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            if is_chain:
                prediction = _chain_forward(layers, x, training, probe_values)[-1]
            else:
                prediction = model(x, training=training)
            return ops.mean(loss_fn(y, prediction))

    _, grads = backend.value_and_grad(objective, [v.value for v in variables] + probes)
    weight_sq = [0.0] * len(layers)
    has_weights = [False] * len(layers)
    for v, g in zip(variables, grads[: len(variables)]):
        index = owner.get(id(v))
        if index is not None:
            weight_sq[index] += float(np.sum(_numpy(g) ** 2))
            has_weights[index] = True
    probe_grads = grads[len(variables) :]
    rows = []
    for i, layer in enumerate(layers):
        out = _numpy(outputs[i])
        rows.append(
            {
                "layer": layer.name,
                "depth": i,
                "weight_grad_norm": float(np.sqrt(weight_sq[i])) if has_weights[i] else None,
                "output_grad_norm": float(np.linalg.norm(_numpy(probe_grads[i])))
                if is_chain
                else None,
                "activation_mean": float(out.mean()),
                "activation_var": float(out.var()),
            }
        )
    return rows


class GradientReport:
    """The result of `gradient_report`: a per-layer table and the flags.

    Attributes:
        rows: the per-layer dicts of `layer_statistics`.
        measure: the column the flags use (`"output_grad_norm"` or
            `"weight_grad_norm"`).
        ratio: gradient norm of the first weighted layer over the last one.
        threshold: the factor beyond which the ratio is flagged.
        nan: whether a gradient norm of `rows` is NaN (then `ratio` is NaN
            and neither flag below is set).
        vanishing: `ratio < 1 / threshold`.
        exploding: `ratio > threshold`.
        chi: the mean factor by which the squared gradient norm grows per
            layer from the last weighted layer back to the first,
            `ratio ** (2 / (n - 1))` for n weighted layers (1 when there are
            fewer than two, NaN with `nan`): the measured analogue of the
            perpendicular susceptibility chi_perp of critical-initialization
            theory.

    Example:

    >>> from keras_gradstab.diagnostics import GradientReport
    >>> rows = [{"layer": "a", "weight_grad_norm": 1e-3, "output_grad_norm": 1e-3,
    ...          "activation_mean": 0.0, "activation_var": 1.0}]
    >>> report = GradientReport(rows, "output_grad_norm", ratio=1e-3, threshold=4.0)
    >>> report.vanishing, report.exploding
    (True, False)
    """

    def __init__(self, rows, measure, ratio, threshold):
        self.rows = rows
        self.measure = measure
        self.nan = any(
            r.get(key) is not None and math.isnan(r[key])
            for r in rows
            for key in ("weight_grad_norm", "output_grad_norm")
        )
        self.ratio = float("nan") if self.nan else ratio
        self.threshold = threshold
        self.vanishing = self.ratio < 1.0 / threshold
        self.exploding = self.ratio > threshold
        weighted = sum(1 for r in rows if r.get("weight_grad_norm") is not None)
        self.chi = (
            float("nan")
            if self.nan
            else float(ratio) ** (2.0 / (weighted - 1))
            if weighted > 1 and 0 < ratio < float("inf")
            else 1.0
        )

    def __str__(self):
        head = f"{'layer':<28}{'weight grad':>14}{'output grad':>14}{'mean':>10}{'var':>10}"
        lines = [head]
        for r in self.rows:

            def fmt(v):
                return f"{v:>14.4g}" if v is not None else f"{'-':>14}"

            lines.append(
                f"{r['layer']:<28}{fmt(r['weight_grad_norm'])}"
                f"{fmt(r['output_grad_norm'])}{r['activation_mean']:>10.3f}"
                f"{r['activation_var']:>10.3f}"
            )
        state = (
            "nan"
            if self.nan
            else "vanishing"
            if self.vanishing
            else "exploding"
            if self.exploding
            else "healthy"
        )
        lines.append(
            f"first/last {self.measure} = {self.ratio:.4g} "
            f"(threshold {self.threshold:.4g}; chi per layer {self.chi:.4g}): {state}"
        )
        return "\n".join(lines)

    __repr__ = __str__


def gradient_report(model, x, y, loss=None, threshold=math.e, training=False):
    """One call: per-layer gradient norms and activations, with health flags.

    The flag compares the gradient norm at the first layer that has
    trainable weights with the one at the last such layer: `vanishing` when
    their ratio is below `1 / threshold`, `exploding` above `threshold`. The
    norm compared is that of the gradient w.r.t. the layer's output (the
    error signal that backpropagation carries, which is what vanishes or
    explodes with depth) when the layers form a chain, else that of the
    gradient w.r.t. the layer's weights.

    Args:
        model: a built Keras model.
        x: a batch of inputs.
        y: the matching targets.
        loss: a loss name or callable; default the model's compiled loss or
            mean squared error.
        threshold: the factor between the first and last layers' gradient
            norms that is flagged; must be greater than 1. Default e: one
            e-fold over the whole depth, the criticality window of "The
            Principles of Deep Learning Theory" (section 5.2). The concept
            page "Self-normalizing networks" explains how to read the flag.
        training: the `training` flag of the forward pass.

    Returns:
        A `GradientReport` (`print` it for the table).

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.diagnostics import gradient_report
    >>> from keras_gradstab.models import snn
    >>> model = snn((16,), units=32, depth=8, output_units=1, dropout_rate=0.0)
    >>> x = np.random.default_rng(0).normal(size=(64, 16)).astype("float32")
    >>> report = gradient_report(model, x, np.zeros((64, 1), "float32"))
    >>> report.vanishing
    False

    References:
        - *The Principles of Deep Learning Theory*, D. A. Roberts, S. Yaida, B.
          Hanin, Cambridge University Press, 2022.
          <https://arxiv.org/abs/2106.10165>
    """
    if not threshold > 1:
        raise ValueError(f"`threshold` must be > 1; received threshold={threshold!r}.")
    rows = layer_statistics(model, x, y, loss=loss, training=training)
    weighted = [r for r in rows if r["weight_grad_norm"] is not None]
    if len(weighted) < 2:
        raise ValueError(
            "gradient_report needs a model with at least two layers with trainable "
            f"weights; received one with {len(weighted)}."
        )
    measure = (
        "output_grad_norm" if weighted[0]["output_grad_norm"] is not None else ("weight_grad_norm")
    )
    first, last = weighted[0][measure], weighted[-1][measure]
    ratio = first / last if last > 0 else float("inf")
    return GradientReport(rows, measure, ratio, threshold)


def jacobian_singular_values(model, x):
    """Singular values of the input-output Jacobian of `model`, per example.

    Dynamical isometry (Pennington, Schoenholz & Ganguli, 2017) is all
    singular values near 1; their spread measures how far a network is from
    it. Each example's Jacobian d model(x)[b] / d x[b] (inputs and outputs
    flattened) is taken by the backend's autodiff, in inference mode.

    Args:
        model: a Keras model with one input and one output.
        x: a batch of inputs, `[B, ...]`.

    Returns:
        A NumPy array `[B, min(n_out, n_in)]`, singular values in descending order.

    Example:

    >>> import keras, numpy as np
    >>> from keras_gradstab.diagnostics import jacobian_singular_values
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
    ...     4, use_bias=False, kernel_initializer="orthogonal")])
    >>> s = jacobian_singular_values(model, np.ones((2, 4), "float32"))
    >>> bool(np.allclose(s, 1.0, atol=1e-5))
    True
    """
    x = ops.convert_to_tensor(x)
    batch = x.shape[0]
    in_shape = tuple(x.shape[1:])

    def fn(flat):
        out = model(ops.reshape(flat, (-1,) + in_shape), training=False)
        return ops.reshape(out, (ops.shape(flat)[0], -1))

    jac = _numpy(backend.batch_jacobian(fn, ops.reshape(x, (batch, -1))))
    return np.linalg.svd(jac, compute_uv=False)
