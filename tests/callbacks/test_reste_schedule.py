"""ReSTESchedule: the cosine values, reaching o_end, and a compiled fit that uses each new
o (read off the weight updates it makes) without retracing."""

import math

import keras
import numpy as np
import pytest
from harness import BACKEND

from keras_gradstab.callbacks import ReSTESchedule
from keras_gradstab.layers import QuantDense
from keras_gradstab.quantizers import ReSTE


def reste_grad(w, o, threshold=1.5, rectify=0.1):
    a = np.abs(w)
    slope = (1.0 / o) * np.maximum(a, rectify) ** ((1.0 - o) / o)
    slope = np.where(a <= rectify, rectify ** (1.0 / o) / rectify, slope)
    return np.where(a <= threshold, slope, 0.0)


def paper_o(progress, o_end=3.0):
    return 1.0 + (1.0 - math.cos(math.pi / 2.0 * progress)) * (o_end - 1.0)


class CallCounter(ReSTE):
    """Counts Python executions of `call`: once per trace under jit."""

    calls = 0

    def call(self, inputs):
        CallCounter.calls += 1
        return super().call(inputs)


class KernelRecorder(keras.callbacks.Callback):
    def __init__(self, per_step):
        super().__init__()
        self.per_step = per_step
        self.kernels = []
        self.calls_after_first = None

    def _record(self):
        if hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()
        self.kernels.append(keras.ops.convert_to_numpy(self.model.layers[0].kernel).copy())
        if self.calls_after_first is None:
            self.calls_after_first = CallCounter.calls

    def on_train_batch_end(self, batch, logs=None):
        if self.per_step:
            self._record()

    def on_epoch_end(self, epoch, logs=None):
        if not self.per_step:
            self._record()


@pytest.mark.parametrize("per_step", [False, True], ids=["per_epoch", "per_step"])
def test_compiled_fit_uses_each_new_o_without_retracing(per_step):
    CallCounter.calls = 0
    w0 = np.array([[0.5], [-0.3], [0.05]], "float32")
    x = np.array([[1.0, -1.0, 1.0]] * 2, "float32")
    lr = 0.01
    model = keras.Sequential(
        [
            keras.Input((3,)),
            QuantDense(
                1,
                use_bias=False,
                kernel_quantizer=CallCounter(o=1.0),
                kernel_initializer=keras.initializers.Constant(w0),
            ),
        ]
    )
    # loss = sum(y_pred): dL/dW_i = sum over the batch of x_i * g'(W_i).
    model.compile(
        optimizer=keras.optimizers.SGD(lr),
        jit_compile=BACKEND != "torch",
        loss=lambda y_true, y_pred: keras.ops.sum(y_pred),
    )
    epochs, batch_size = (3, 2) if not per_step else (2, 1)
    recorder = KernelRecorder(per_step)
    schedule = ReSTESchedule(o_end=3.0, per_step=per_step)
    history = model.fit(
        x,
        np.zeros((2, 1), "float32"),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=False,
        verbose=0,
        callbacks=[schedule, recorder],
    )

    steps = epochs * (2 // batch_size)
    os_ = [paper_o(k / (steps - 1)) for k in range(steps)]
    w = w0.astype("float64")
    want = []
    for o in os_:
        w = w - lr * (batch_size * x[:1].T) * reste_grad(w, o)
        want.append(w.copy())  # one step per epoch, or one record per step
    np.testing.assert_allclose(np.stack(recorder.kernels), np.stack(want), rtol=1e-5, atol=1e-7)
    assert history.history["reste_o"][-1] == pytest.approx(3.0)
    assert float(
        keras.ops.convert_to_numpy(model.layers[0].kernel_quantizer.o.value)
    ) == pytest.approx(3.0)
    if BACKEND != "torch":
        assert CallCounter.calls == recorder.calls_after_first, "the train step was retraced"


def test_schedule_values_reach_o_end_and_reach_nested_quantizers():
    inner = keras.Sequential(
        [keras.Input((4,)), QuantDense(3, input_quantizer="reste", kernel_quantizer="reste")]
    )
    model = keras.Sequential([keras.Input((4,)), inner, QuantDense(2, kernel_quantizer="reste")])
    model.compile("sgd", "mse")
    history = model.fit(
        np.ones((4, 4)), np.ones((4, 2)), epochs=5, verbose=0, callbacks=[ReSTESchedule(o_end=2.5)]
    )
    want = [1.0 + (1.0 - math.cos(math.pi / 2.0 * e / 4)) * 1.5 for e in range(5)]
    np.testing.assert_allclose(history.history["reste_o"], want, rtol=1e-12)
    values = [
        float(keras.ops.convert_to_numpy(v.value))
        for v in model.non_trainable_weights
        if v.name == "o"
    ]
    assert len(values) == 3
    np.testing.assert_allclose(values, 2.5)


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="`o_end`"):
        ReSTESchedule(o_end=0.5)
    with pytest.raises(ValueError, match="`epochs`"):
        ReSTESchedule(epochs=0)
