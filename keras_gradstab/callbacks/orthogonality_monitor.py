"""Logs how far chosen convolution layers are from orthogonal, during training."""

import keras
import numpy as np
from keras import ops

from keras_gradstab.ops.conv_singular_values import conv_singular_values
from keras_gradstab.ops.orthogonal_conv import lorth


def conv_kernel_and_strides(layer):
    """(kernel, strides) of a convolution layer, or None if it has no conv kernel.

    For keras_gradstab's OrthogonalConv layers: their stride-1 kernel applied after
    space-to-depth (`orthogonal_kernel()`), at stride 1.
    """
    if hasattr(layer, "orthogonal_kernel") and layer.built:
        kernel = layer.orthogonal_kernel()
        return kernel, (1,) * (len(kernel.shape) - 2)
    kernel = getattr(layer, "kernel", None)
    if kernel is None or len(kernel.shape) not in (3, 4, 5):
        return None
    strides = tuple(getattr(layer, "strides", (1,) * (len(kernel.shape) - 2)))
    return ops.convert_to_tensor(kernel), strides


@keras.saving.register_keras_serializable(package="keras_gradstab")
class OrthogonalityMonitor(keras.callbacks.Callback):
    """Adds the orthogonality error of convolution layers to the epoch logs.

    At the end of every `every`-th epoch, for each chosen layer it logs
    `lorth/<layer name>` (`keras_gradstab.ops.lorth` at the layer's strides; 0
    exactly for an orthogonal convolution with circular padding) and, when
    `input_shape` is given and the layer has stride 1, `sigma_error/<layer
    name>`: `max |sigma - 1|` over the exact circular singular values on an
    input of that spatial size (`keras_gradstab.ops.conv_singular_values`).
    The values land in `History` and in any callback that reads the logs.

    Args:
        layers: layer names to watch; None watches every layer with a 1D, 2D or
            3D convolution kernel (Keras Conv and ConvTranspose layers, and
            keras_gradstab's OrthogonalConv layers).
        input_shape: spatial input size for the singular values (e.g. `(8, 8)`);
            None logs Lorth only.
        every: log every `every` epochs.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab import callbacks
    >>> model = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Conv2D(2, 3, name="c")])
    >>> model.compile("sgd", "mse")
    >>> h = model.fit(np.ones((4, 8, 8, 2)), np.ones((4, 6, 6, 2)), verbose=0,
    ...               callbacks=[callbacks.OrthogonalityMonitor(input_shape=(8, 8))])
    >>> sorted(k for k in h.history if "/" in k)
    ['lorth/c', 'sigma_error/c']
    """

    def __init__(self, layers=None, input_shape=None, every=1):
        super().__init__()
        if layers is not None:
            layers = [layers] if isinstance(layers, str) else list(layers)
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be an integer >= 1; received {every!r}.")
        self.layer_names = layers
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.every = every

    def _layers(self):
        if self.layer_names is None:
            return [
                layer
                for layer in _all_layers(self.model)
                if conv_kernel_and_strides(layer) is not None
            ]
        return [self.model.get_layer(name) for name in self.layer_names]

    def errors(self):
        """The current errors as a dict `{"lorth/<name>": float, ...}`."""
        out = {}
        for layer in self._layers():
            found = conv_kernel_and_strides(layer)
            if found is None:
                raise ValueError(f"Layer {layer.name!r} has no 1D/2D/3D convolution kernel.")
            kernel, strides = found
            out[f"lorth/{layer.name}"] = float(ops.convert_to_numpy(lorth(kernel, strides)))
            if self.input_shape is not None and all(s == 1 for s in strides):
                sigma = ops.convert_to_numpy(conv_singular_values(kernel, self.input_shape))
                out[f"sigma_error/{layer.name}"] = float(np.max(np.abs(sigma - 1.0)))
        return out

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and (epoch + 1) % self.every == 0:
            logs.update(self.errors())

    def get_config(self):
        return {
            "layers": self.layer_names,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "every": self.every,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
