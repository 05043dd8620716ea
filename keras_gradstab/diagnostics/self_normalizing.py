"""What in a model breaks the self-normalizing fixed point (Klambauer et al., 2017)."""

import keras

from keras_gradstab.activations import SELU
from keras_gradstab.activations import selu as _selu
from keras_gradstab.layers import AlphaDropout


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            yield layer


def _is_selu(activation):
    return activation in (_selu, keras.activations.selu) or isinstance(activation, SELU)


def _is_lecun(initializer):
    if isinstance(initializer, (keras.initializers.LecunNormal, keras.initializers.LecunUniform)):
        return True
    if isinstance(initializer, keras.initializers.VarianceScaling):
        return initializer.scale == 1.0 and initializer.mode == "fan_in"
    return False


def _describe(obj):
    return getattr(obj, "__name__", None) or type(obj).__name__


def check_self_normalizing(model, check_output_layer=False):
    """Lists what in `model` breaks the SNN fixed point, with layer names.

    Checked (Klambauer et al.'s recipe): no batch normalization, no ordinary
    dropout (`Dropout`, `SpatialDropout*`, `GaussianDropout`; use
    `AlphaDropout`), kernels initialized with variance 1 / fan_in
    (`lecun_normal`, `lecun_uniform` or an equivalent `VarianceScaling`), and
    selu activations. The output layer's activation and initializer are not
    checked unless `check_output_layer` (a softmax head is fine).

    Args:
        model: a Keras model (nested models are searched).
        check_output_layer: also check the last layer with weights.

    Returns:
        A list of `{"layer": name, "problem": text}` dicts; empty if nothing
        breaks the fixed point.

    Example:

    >>> import keras
    >>> from keras_gradstab.diagnostics import check_self_normalizing
    >>> model = keras.Sequential([keras.Input((8,)),
    ...     keras.layers.Dense(8, activation="relu", name="hidden"),
    ...     keras.layers.Dense(1, name="out")])
    >>> [f["layer"] for f in check_self_normalizing(model)]
    ['hidden', 'hidden']

    References:
        - *Self-Normalizing Neural Networks*, G. Klambauer, T. Unterthiner, A. Mayr,
          S. Hochreiter, NeurIPS 2017. <https://arxiv.org/abs/1706.02515>
    """
    layers = list(_all_layers(model))
    weighted = [layer for layer in layers if getattr(layer, "kernel_initializer", None)]
    output = weighted[-1] if weighted and not check_output_layer else None
    findings = []

    def flag(layer, problem):
        findings.append({"layer": layer.name, "problem": problem})

    for layer in layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            flag(
                layer,
                "BatchNormalization replaces the self-normalizing fixed point "
                "by batch statistics; remove it.",
            )
        if isinstance(layer, (keras.layers.Dropout, keras.layers.GaussianDropout)) and not (
            isinstance(layer, (AlphaDropout, keras.layers.AlphaDropout))
        ):
            flag(
                layer,
                f"{type(layer).__name__} moves the mean and variance off the "
                "fixed point; use keras_gradstab.layers.AlphaDropout.",
            )
        if layer is output:
            continue
        init = getattr(layer, "kernel_initializer", None)
        if init is not None and not _is_lecun(init):
            flag(
                layer,
                f"kernel initializer {_describe(init)} is not lecun_normal (variance 1 / fan_in).",
            )
        activation = getattr(layer, "activation", None)
        if activation is not None and not _is_selu(activation):
            linear = activation is keras.activations.linear
            if not (
                linear
                and not isinstance(layer, keras.layers.Activation)
                and _followed_by_selu(layers, layer)
            ):
                flag(layer, f"activation {_describe(activation)} is not selu.")
    return findings


def _followed_by_selu(layers, layer):
    index = layers.index(layer)
    return (
        index + 1 < len(layers)
        and isinstance(layers[index + 1], keras.layers.Activation)
        and (_is_selu(layers[index + 1].activation))
    )
