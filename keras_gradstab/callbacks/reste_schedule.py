"""The cosine schedule of ReSTE's power `o` (Wu et al., ICCV 2023)."""

import math

import keras

from keras_gradstab.ops._checks import is_finite_number
from keras_gradstab.quantizers.reste import ReSTE


def reste_quantizers(model):
    """Every `ReSTE` quantizer inside `model` (any depth), each once."""
    found = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, ReSTE) and not any(layer is q for q in found):
            found.append(layer)
    return found


def cosine_o(progress, o_start, o_end):
    """o = o_start + (1 - cos(pi/2 * progress)) (o_end - o_start), progress in [0, 1]."""
    progress = min(max(progress, 0.0), 1.0)
    return o_start + (1.0 - math.cos(math.pi / 2.0 * progress)) * (o_end - o_start)


@keras.saving.register_keras_serializable(package="keras_gradstab")
class ReSTESchedule(keras.callbacks.Callback):
    """Raises `o` of every ReSTE quantizer of the model on the paper's cosine schedule.

    `o = o_start + (1 - cos(pi/2 * progress)) (o_end - o_start)`, with
    `progress = epoch / (epochs - 1)` (per epoch) or `step / (total_steps - 1)`
    (per step), so that `o` starts at `o_start` and reaches `o_end` exactly at the
    last epoch (or step) of `fit`: the reference code stops one epoch short. A
    small `o` early keeps the gradient stable (o = 1 is the clipped STE); a large
    `o` late lowers the estimating error.

    `o` is a non-trainable variable of each quantizer, and the schedule assigns
    it: the compiled train step reads the variable, so it is not retraced. On
    JAX, the per-step schedule syncs the training state into the variables before
    each assignment (`model.jax_state_sync()`), which costs a copy of the state
    per step; the per-epoch schedule costs nothing.

    Args:
        o_end: the value reached at the end of training (3 in the paper).
        o_start: the value at the start (1, the clipped STE).
        epochs: the length of the schedule in epochs; `None` takes the `epochs`
            of `fit`.
        per_step: update `o` before every training step instead of every epoch.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.callbacks import ReSTESchedule
    >>> from keras_gradstab.layers import QuantDense
    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           QuantDense(2, kernel_quantizer="reste")])
    >>> model.compile("sgd", "mse")
    >>> history = model.fit(np.ones((8, 4)), np.ones((8, 2)), epochs=3, verbose=0,
    ...                     callbacks=[ReSTESchedule(o_end=3.0)])
    >>> [round(o, 4) for o in history.history["reste_o"]]
    [1.0, 1.5858, 3.0]

    References:
        - *Estimator Meets Equilibrium Perspective: A Rectified Straight Through
          Estimator for Binary Neural Networks Training*, X.-M. Wu, D. Zheng, Z.
          Liu, W.-S. Zheng, ICCV 2023. <https://arxiv.org/abs/2308.06689>
    """

    def __init__(self, o_end=3.0, o_start=1.0, epochs=None, per_step=False):
        super().__init__()
        for name, value in (("o_end", o_end), ("o_start", o_start)):
            if not (is_finite_number(value) and value >= 1):
                raise ValueError(f"`{name}` must be a finite number >= 1; received {value!r}.")
        if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
            raise ValueError(f"`epochs` must be a positive integer or None; received {epochs!r}.")
        self.o_end = float(o_end)
        self.o_start = float(o_start)
        self.epochs = epochs
        self.per_step = bool(per_step)
        self._quantizers = []
        self._epoch = 0
        self.current_o = self.o_start

    def on_train_begin(self, logs=None):
        self._quantizers = reste_quantizers(self.model)
        self._total_epochs = self.epochs or self.params.get("epochs") or 1
        self._steps = self.params.get("steps")
        if self.per_step and not self._steps:
            raise ValueError(
                "`per_step=True` needs the number of steps per epoch: pass "
                "`steps_per_epoch` to fit or data of known length."
            )

    def _assign(self, value):
        self.current_o = value
        if not self._quantizers:
            return
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            # JAX keeps the training state outside the variables during an epoch.
            sync()
        for quantizer in self._quantizers:
            quantizer.o.assign(value)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if not self.per_step:
            last = max(self._total_epochs - 1, 1)
            self._assign(cosine_o(epoch / last, self.o_start, self.o_end))

    def on_train_batch_begin(self, batch, logs=None):
        if self.per_step:
            last = max(self._total_epochs * self._steps - 1, 1)
            step = self._epoch * self._steps + batch
            self._assign(cosine_o(step / last, self.o_start, self.o_end))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["reste_o"] = self.current_o

    def get_config(self):
        return {
            "o_end": self.o_end,
            "o_start": self.o_start,
            "epochs": self.epochs,
            "per_step": self.per_step,
        }
