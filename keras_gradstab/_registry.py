"""The `get` / `serialize` / `deserialize` logic that the areas with names share.

Each area keeps its own public functions (with their docstrings) and hands the
work to a `Registry` holding its table of names and its Keras counterpart.
"""

import keras


def serialize(obj):
    """The Keras config dict of `obj` (`None` stays `None`)."""
    return keras.saving.serialize_keras_object(obj)


class Registry:
    """One area's names, and how its `get` and `deserialize` resolve them.

    Args:
        names: `{name: class}` that `get` builds with no argument from a name.
        objects: `{name: class}` whose config dicts this area deserializes
            itself; other dicts go to `keras_get`.
        base_class: instances of it are returned by `get` as they are.
        keras_get: the Keras `get` of the same area, for everything else.
        keras_deserialize: the Keras `deserialize` of the same area, for
            configs that are not this area's (Keras's own names and dicts),
            called with `objects` as custom objects.
        own_through_keras: also hand this area's own configs to
            `keras_deserialize` (else `keras.saving.deserialize_keras_object`
            looks them up in `objects`, and a name gives an instance).
    """

    def __init__(self, *, names, objects, base_class, keras_get, keras_deserialize,
                 own_through_keras=False):
        self.names = names
        self.objects = objects
        self.base_class = base_class
        self.keras_get = keras_get
        self.keras_deserialize = keras_deserialize
        self.own_through_keras = own_through_keras

    def is_own(self, config):
        """Whether `config` (a name or a config dict) names one of this area's classes."""
        if isinstance(config, dict):
            name = config.get("class_name")
            return name in self.objects or str(name).startswith("keras_gradstab>")
        return isinstance(config, str) and config in self.objects

    def deserialize(self, config, custom_objects=None):
        if self.own_through_keras or not self.is_own(config):
            return self.keras_deserialize(
                config, custom_objects={**self.objects, **(custom_objects or {})})
        return keras.saving.deserialize_keras_object(
            config, module_objects=self.objects, custom_objects=custom_objects
        )

    def get(self, identifier):
        if identifier is None:
            return None
        if isinstance(identifier, str) and identifier in self.names:
            return self.names[identifier]()
        if isinstance(identifier, dict) and self.is_own(identifier):
            return self.deserialize(identifier)
        if isinstance(identifier, self.base_class):
            return identifier
        return self.keras_get(identifier)
