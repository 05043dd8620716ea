"""A callback that records per-layer gradient health during training."""

import csv

import keras
import numpy as np

from keras_gradstab.diagnostics.gradients import layer_statistics

_COLUMNS = [
    "step",
    "layer",
    "depth",
    "weight_grad_norm",
    "output_grad_norm",
    "activation_mean",
    "activation_var",
]


class GradientMonitor(keras.callbacks.Callback):
    """Records per-layer gradient norms and activation statistics every N steps.

    (Callbacks are not saved with models, so this one is not registered for
    serialization, like Keras's own callbacks.)

    Every `every` training steps (and before the first), the gradients of the
    loss on a fixed probe batch `(x, y)` are computed for each layer (see
    `keras_gradstab.diagnostics.layer_statistics`) with the model's current
    weights; a fixed batch makes the records of different steps comparable.
    Records are kept in `history` (one dict per layer and step), and can be
    written with `to_csv` and drawn with `plot` (norm vs depth and vs step).

    Args:
        x: the probe inputs.
        y: the probe targets.
        every: record every `every` steps (batches).
        loss: a loss name or callable; default the model's compiled loss.

    Example:

    >>> import keras, numpy as np
    >>> from keras_gradstab.diagnostics import GradientMonitor
    >>> x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    >>> y = x.sum(axis=1, keepdims=True)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
    ...                           keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> monitor = GradientMonitor(x, y, every=2)
    >>> _ = model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[monitor])
    >>> sorted({r["step"] for r in monitor.history})
    [0, 2, 4]
    """

    def __init__(self, x, y, every=10, loss=None):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be an integer >= 1; received every={every!r}.")
        self.x = x
        self.y = y
        self.every = every
        self.loss = loss
        self.history = []
        self._step = 0

    def _record(self):
        rows = layer_statistics(self.model, self.x, self.y, loss=self.loss or None)
        for row in rows:
            self.history.append({"step": self._step, **row})

    def on_train_begin(self, logs=None):
        if not self.history:
            self._record()

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0:
            self._record()

    def to_csv(self, path):
        """Writes `history` to a CSV file at `path` (one row per layer and step)."""
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=_COLUMNS)
            writer.writeheader()
            for row in self.history:
                writer.writerow({k: ("" if row[k] is None else row[k]) for k in _COLUMNS})

    def plot(self, path, measure=None):
        """Saves a PNG: gradient norm vs depth (one line per recorded step) and
        vs step (one line per layer), on log scales.

        Args:
            path: the PNG file to write.
            measure: `"weight_grad_norm"` or `"output_grad_norm"`; default the
                output gradient where recorded, else the weight gradient.
        """
        # The Agg canvas directly: no pyplot, so no global backend is changed.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if measure is None:
            has_output = any(r["output_grad_norm"] is not None for r in self.history)
            measure = "output_grad_norm" if has_output else "weight_grad_norm"
        rows = [r for r in self.history if r[measure] is not None]
        steps = sorted({r["step"] for r in rows})
        depths = sorted({r["depth"] for r in rows})
        figure = Figure(figsize=(10, 4))
        FigureCanvasAgg(figure)
        by_depth, by_step = figure.subplots(1, 2)
        colors = figure.colormaps["viridis"] if hasattr(figure, "colormaps") else None
        for i, step in enumerate(steps):
            pts = sorted((r["depth"], r[measure]) for r in rows if r["step"] == step)
            color = None
            if colors is not None:
                color = colors(i / max(1, len(steps) - 1))
            by_depth.plot(
                *zip(*pts), color=color, label=f"step {step}" if i in (0, len(steps) - 1) else None
            )
        for depth in depths:
            pts = sorted((r["step"], r[measure]) for r in rows if r["depth"] == depth)
            by_step.plot(*zip(*pts), linewidth=1)
        for axes, xlabel in ((by_depth, "layer depth"), (by_step, "training step")):
            axes.set_yscale("log")
            axes.set_xlabel(xlabel)
            axes.set_ylabel(measure.replace("_", " "))
        by_depth.legend()
        figure.tight_layout()
        figure.savefig(path, format="png")
        return path

    def as_array(self, measure="weight_grad_norm"):
        """`history` as a `[steps, layers]` NumPy array of `measure` (NaN where absent)."""
        steps = sorted({r["step"] for r in self.history})
        depths = sorted({r["depth"] for r in self.history})
        table = np.full((len(steps), len(depths)), np.nan)
        for r in self.history:
            if r[measure] is not None:
                table[steps.index(r["step"]), depths.index(r["depth"])] = r[measure]
        return table
