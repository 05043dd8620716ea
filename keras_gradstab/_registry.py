"""The `get` / `serialize` / `deserialize` logic that the areas with names share.

Each area keeps its own public functions (with their docstrings) and hands the
work to these, passing its table of names and its Keras counterpart.
"""

import keras


def serialize(obj):
    """The Keras config dict of `obj` (`None` stays `None`)."""
    return keras.saving.serialize_keras_object(obj)


def deserialize(config, objects, custom_objects=None):
    """The object of `config`, a config dict or a name looked up in `objects`."""
    return keras.saving.deserialize_keras_object(
        config, module_objects=objects, custom_objects=custom_objects
    )


def get(identifier, *, names, objects, base_class, keras_get, deserialize_fn):
    """An object from `None`, a name, a config dict or an instance.

    Args:
        identifier: what the user passed.
        names: `{name: class}` of this library's names (built with no argument).
        objects: `{name: class}` whose config dicts this area deserializes
            itself (with `deserialize_fn`); other dicts go to `keras_get`.
        base_class: instances of it are returned as they are.
        keras_get: the Keras `get` of the same area, for everything else.
        deserialize_fn: the area's `deserialize`.
    """
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier in names:
        return names[identifier]()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name in objects or str(name).startswith("keras_gradstab>"):
            return deserialize_fn(identifier)
    if isinstance(identifier, base_class):
        return identifier
    return keras_get(identifier)
