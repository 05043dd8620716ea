"""Quantizers for binary and low-bit networks, usable by string name as in Larq.

`get(identifier)` accepts `None`, a quantizer instance, a callable, a serialized
dict, or a name: the class name (`"SteSign"`) or its snake-case alias
(`"ste_sign"`), which builds the quantizer with its default arguments.
"""

import keras

from keras_gradstab.quantizers.base import Quantizer, SignQuantizer
from keras_gradstab.quantizers.dorefa import DoReFa
from keras_gradstab.quantizers.packing import load_packed_weights, pack_binary_weights
from keras_gradstab.quantizers.reste import ReSTE
from keras_gradstab.quantizers.sign import ApproxSign, SteHeaviside, SteSign, SwishSign

ALL_OBJECTS = {
    cls.__name__: cls for cls in (ReSTE, SteSign, ApproxSign, SwishSign, SteHeaviside, DoReFa)
}
ALIASES = {
    "reste": ReSTE,
    "ste_sign": SteSign,
    "approx_sign": ApproxSign,
    "swish_sign": SwishSign,
    "ste_heaviside": SteHeaviside,
    "dorefa": DoReFa,
    "dorefa_quantizer": DoReFa,
}


def serialize(quantizer):
    """Returns the Keras config dict of `quantizer` (`None` stays `None`).

    Args:
        quantizer: a quantizer instance or `None`.

    Returns:
        A JSON-able dict that `deserialize` (or `get`) turns back into an equal
        quantizer, or `None`.

    Example:

    >>> from keras_gradstab import quantizers
    >>> config = quantizers.serialize(quantizers.SteSign(clip_value=0.5))
    >>> config["class_name"], config["config"]["clip_value"]
    ('SteSign', 0.5)
    """
    if quantizer is None:
        return None
    return keras.saving.serialize_keras_object(quantizer)


def deserialize(config, custom_objects=None):
    """Builds a quantizer from `serialize`'s dict or a name.

    Args:
        config: a dict from `serialize`, or a name as `get` accepts.
        custom_objects: optional dict of extra classes by name.

    Returns:
        A new quantizer.

    Example:

    >>> from keras_gradstab import quantizers
    >>> revived = quantizers.deserialize(quantizers.serialize(quantizers.ReSTE(o=2.0)))
    >>> type(revived).__name__, revived.initial_o
    ('ReSTE', 2.0)
    """
    if isinstance(config, str):
        return get(config)
    return keras.saving.deserialize_keras_object(
        config, module_objects={**ALL_OBJECTS, **ALIASES}, custom_objects=custom_objects
    )


def get(identifier):
    """Returns a quantizer from `None`, an instance, a callable, a dict or a name.

    Args:
        identifier: `None`, a `Quantizer` (or any callable), a dict from
            `serialize`, or a name such as `"ste_sign"`, `"SteSign"` or `"reste"`.

    Returns:
        The quantizer (a new instance for names and dicts), or `None`.

    Example:

    >>> from keras_gradstab import quantizers
    >>> type(quantizers.get("ste_sign")).__name__
    'SteSign'
    >>> quantizers.get("reste").initial_o
    3.0
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        cls = ALIASES.get(identifier) or ALL_OBJECTS.get(identifier)
        if cls is None:
            names = sorted({*ALIASES, *ALL_OBJECTS})
            raise ValueError(
                f"Unknown quantizer {identifier!r}; expected one of {names}, an "
                "instance, a callable or a serialized dict."
            )
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret quantizer identifier {identifier!r}: expected None, a "
        "name, a dict or a callable."
    )


__all__ = [
    "ApproxSign",
    "DoReFa",
    "Quantizer",
    "ReSTE",
    "SteHeaviside",
    "SignQuantizer",
    "SteSign",
    "SwishSign",
    "deserialize",
    "get",
    "load_packed_weights",
    "pack_binary_weights",
    "serialize",
]
