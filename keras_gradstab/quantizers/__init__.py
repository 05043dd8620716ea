"""Quantizers for binary and low-bit networks, usable by string name as in Larq.

`get(identifier)` accepts `None`, a quantizer instance, a callable, a serialized
dict, or a name: the class name (`"SteSign"`) or its snake-case alias
(`"ste_sign"`), which builds the quantizer with its default arguments.
"""

from keras_gradstab import _registry
from keras_gradstab.quantizers.base import Quantizer
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
_REGISTRY = _registry.Registry("quantizers", {**ALL_OBJECTS, **ALIASES})


def serialize(quantizer):
    """Returns the Keras config dict of `quantizer` (`None` stays `None`).

    Args:
        quantizer: a `Quantizer` instance, or `None`.

    Returns:
        A JSON-able dict that `deserialize` (or `get`) turns back into an equal
        quantizer, or `None`.

    Example:

    >>> from keras_gradstab import quantizers
    >>> config = quantizers.serialize(quantizers.SteSign(clip_value=0.5))
    >>> config["registered_name"], config["config"]["clip_value"]
    ('keras_gradstab>SteSign', 0.5)
    """
    return _REGISTRY.serialize(quantizer)


def deserialize(config, custom_objects=None):
    """Builds a quantizer from `serialize`'s dict or a name.

    Args:
        config: a dict from `serialize`, or a name as `get` accepts it.
        custom_objects: optional `{name: class}` of more classes to look up.

    Returns:
        A new quantizer instance.

    Example:

    >>> from keras_gradstab import quantizers
    >>> q = quantizers.deserialize(quantizers.serialize(quantizers.SteSign(clip_value=0.5)))
    >>> type(q).__name__, q.clip_value
    ('SteSign', 0.5)
    >>> type(quantizers.deserialize("swish_sign")).__name__
    'SwishSign'
    """
    return _REGISTRY.deserialize(config, custom_objects)


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
    return _REGISTRY.get(identifier)


__all__ = [
    "ApproxSign",
    "DoReFa",
    "Quantizer",
    "ReSTE",
    "SteHeaviside",
    "SteSign",
    "SwishSign",
    "deserialize",
    "get",
    "load_packed_weights",
    "pack_binary_weights",
    "serialize",
]
