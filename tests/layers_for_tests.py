"""A small recurrent layer on `keras_gradstab.ops.scan`, used to test the harness and
the scan core inside real Keras models (fit, save, jit, mixed precision)."""

import keras
from keras import ops

import keras_gradstab as kg


@keras.saving.register_keras_serializable(package="keras_gradstab_tests")
class ScanSimpleRNN(keras.layers.Layer):
    """h_t = tanh(x_t W + h_{t-1} U + b), run on `kg.ops.scan`."""

    def __init__(self, units, go_backwards=False, return_sequences=False, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.go_backwards = go_backwards
        self.return_sequences = return_sequences

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[-1], self.units), initializer="glorot_uniform"
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(self.units, self.units), initializer="orthogonal"
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        # The input projection of every step in one matmul, before the loop.
        projected = ops.matmul(inputs, self.kernel) + self.bias
        projected = ops.transpose(projected, (1, 0, 2))
        recurrent = ops.convert_to_tensor(self.recurrent_kernel)
        h0 = ops.zeros((ops.shape(inputs)[0], self.units), dtype=projected.dtype)

        def step(h, x):
            h = ops.tanh(x + ops.matmul(h, recurrent))
            return h, h

        h, hs = kg.ops.scan(step, h0, projected, reverse=self.go_backwards)
        if self.return_sequences:
            return ops.transpose(hs, (1, 0, 2))
        return h

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            return tuple(input_shape[:2]) + (self.units,)
        return (input_shape[0], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "go_backwards": self.go_backwards,
            "return_sequences": self.return_sequences,
        }
