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

    def __init__(
        self, *, names, objects, base_class, keras_get, keras_deserialize, own_through_keras=False
    ):
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
                config, custom_objects={**self.objects, **(custom_objects or {})}
            )
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


_SERIALIZE_DOC = """The Keras config dict of `{kind}` (`None` stays `None`).

Args:
    {kind}: a {kind} instance (this library's or Keras's), or `None`.

Returns:
    A JSON-able dict that `deserialize` turns back into an equal {kind}.

Example:

>>> from keras_gradstab import {area}
>>> config = {area}.serialize({area}.{example})
>>> config["registered_name"]
'keras_gradstab>{registered_name}'
>>> config["config"]["{attr}"]
{value!r}
"""

_DESERIALIZE_DOC = """A {kind} from its config dict (from `serialize`) or a name.

This area's names are looked up first; Keras's own names and dicts work too.

Args:
    config: a dict from `serialize`, or a name.
    custom_objects: optional `{{name: class}}` of more classes to look up.

Returns:
    A new {kind} instance.

Example:

>>> from keras_gradstab import {area}
>>> obj = {area}.deserialize({area}.serialize({area}.{example}))
>>> type(obj).__name__, obj.{attr}
({class_name!r}, {value!r})
"""

_GET_DOC = """A {kind} from a name, a config dict, an instance or `None`.

Names of this area ({names}) build the class with its default arguments; any
other identifier is handed to `keras.{area}.get`.

Args:
    identifier: `None`, a name, a config dict from `serialize`, or an
        instance.

Returns:
    The {kind} (a new instance for names and dicts), or `None`.

Example:

>>> from keras_gradstab import {area}
>>> type({area}.get({get_name!r})).__name__
{get_class!r}
"""


def document(
    serialize,
    deserialize,
    get,
    *,
    area,
    kind,
    example,
    registered_name,
    class_name,
    attr,
    value,
    names,
    get_name,
):
    """Gives an area's `serialize`, `deserialize` and `get` their shared docstrings.

    Args:
        serialize, deserialize, get: the area's three functions.
        area: the area's module name under `keras_gradstab` ("constraints").
        kind: what one object of the area is called ("constraint").
        example: a constructor call of the examples ("WeightClip(0.5)").
        registered_name: the class's registered name ("WeightClip").
        class_name: the class's name.
        attr: an attribute set by `example`, and `value`, its value there.
        names: the text listing the names that `get` builds.
        get_name: a name whose `get` the example shows.
    """
    fields = dict(
        area=area,
        kind=kind,
        example=example,
        registered_name=registered_name,
        class_name=class_name,
        attr=attr,
        value=value,
        names=names,
        get_name=get_name,
        get_class=type(get(get_name)).__name__,
    )
    serialize.__doc__ = _SERIALIZE_DOC.format(**fields)
    deserialize.__doc__ = _DESERIALIZE_DOC.format(**fields)
    get.__doc__ = _GET_DOC.format(**fields)
