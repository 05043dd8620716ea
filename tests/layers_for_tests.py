"""Small recurrent layers on `keras_gradstab.layers.ScanRNN`, used to test the harness
and the scan core inside real Keras models (fit, save, jit, mixed precision)."""

import keras
from keras import ops

import keras_gradstab as kg
from keras_gradstab.layers.recurrent.base import CellArgumentsRNN


@keras.saving.register_keras_serializable(package="keras_gradstab_tests")
class TanhCell(kg.layers.ScanCell):
    """h_t = tanh(x_t W + b + h_{t-1} U) as a `ScanCell`."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = self.state_size = self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[-1], self.units), initializer="glorot_uniform"
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(self.units, self.units), initializer="orthogonal"
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def project_inputs(self, inputs):
        return kg.ops.matmul(inputs, self.kernel) + self.bias

    def recurrent_constants(self, training=False, update_state=False):
        return {"recurrent": ops.convert_to_tensor(self.recurrent_kernel)}

    def step(self, projected, states, constants, recurrent_mask=None):
        return [ops.tanh(projected + ops.matmul(states[0], constants["recurrent"]))]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="keras_gradstab_tests")
class ScanSimpleRNN(CellArgumentsRNN):
    """A simple RNN on `ScanRNN` through the `ScanCell` protocol."""

    cell_class = TanhCell
    cell_keys = ("units",)
    cell_name = "tanh_cell"


@keras.saving.register_keras_serializable(package="keras_gradstab_tests")
class ScanGRU(CellArgumentsRNN):
    """`keras.layers.GRUCell` on `ScanRNN`: the path of any Keras cell."""

    cell_class = keras.layers.GRUCell
    cell_keys = ("units",)
    cell_name = "gru_cell"
