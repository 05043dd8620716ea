"""The `get` / `serialize` / `deserialize` logic that the areas with names share.

Each area keeps its own public functions and hands the work to a `Registry`
holding its table of names and its Keras counterpart (if Keras has one).
"""

import ast
import inspect

import keras


def with_class_names(aliases, *classes):
    """`{name: class}` of `aliases` and of every class's (and alias's class's) own name."""
    return {
        **{cls.__name__: cls for cls in (*aliases.values(), *classes)},
        **aliases,
    }


class Registry:
    """One area's names, and how its `get`, `serialize` and `deserialize` resolve them.

    Args:
        area: the area's module name under `keras_gradstab` ("constraints").
        names: `{name: class or function}` that `get` resolves: a class is
            built with no argument, a function is returned as it is (and
            `serialize` gives its name).
        objects: `{name: class}` whose config dicts this area deserializes
            itself; defaults to `names`.
        keras_area: the Keras module of the same area (`keras.constraints`),
            whose `get`, `serialize` and `deserialize` take every identifier
            that is not this area's, or `None` where Keras has none: then an
            unknown name is a `ValueError` and any callable passes through.
        base_class: instances of it are returned by `get` as they are; by
            default the Keras area's base class (`keras.constraints.Constraint`).
        default: what `get(None)` returns.
        own_through_keras: also hand this area's own configs to
            `keras_area.deserialize` (else `keras.saving.deserialize_keras_object`
            looks them up in `objects`, and a name gives an instance).
    """

    def __init__(
        self,
        area,
        names,
        *,
        objects=None,
        keras_area=None,
        base_class=None,
        default=None,
        own_through_keras=False,
    ):
        self.area = area
        self.kind = area[:-1]
        self.names = names
        self.objects = names if objects is None else objects
        self.keras_area = keras_area
        if base_class is None and keras_area is not None:
            base_class = getattr(keras_area, self.kind.capitalize(), None)
        self.base_class = base_class
        self.default = default
        self.own_through_keras = own_through_keras

    def is_own(self, config):
        """Whether `config` (a name or a config dict) names one of this area's classes."""
        if isinstance(config, dict):
            name = config.get("class_name")
            return name in self.objects or str(name).startswith("keras_gradstab>")
        return isinstance(config, str) and config in self.objects

    def serialize(self, obj):
        for name, value in self.names.items():
            if obj is value and not isinstance(value, type):
                return name
        if self.keras_area is None:
            return keras.saving.serialize_keras_object(obj)
        return self.keras_area.serialize(obj)

    def deserialize(self, config, custom_objects=None):
        if isinstance(config, str) and self.keras_area is None:
            return self.get(config)
        if self.keras_area is not None and (self.own_through_keras or not self.is_own(config)):
            return self.keras_area.deserialize(
                config, custom_objects={**self.objects, **(custom_objects or {})}
            )
        return keras.saving.deserialize_keras_object(
            config, module_objects=self.objects, custom_objects=custom_objects
        )

    def get(self, identifier):
        if identifier is None:
            return self.default
        if isinstance(identifier, str) and identifier in self.names:
            value = self.names[identifier]
            return value() if isinstance(value, type) else value
        if isinstance(identifier, dict) and (self.keras_area is None or self.is_own(identifier)):
            return self.deserialize(identifier)
        if self.base_class is not None and isinstance(identifier, self.base_class):
            return identifier
        if self.keras_area is not None:
            return self.keras_area.get(identifier)
        if isinstance(identifier, str):
            raise ValueError(
                f"Unknown {self.kind} {identifier!r}; expected one of "
                f"{sorted({*self.names, *self.objects})}, an instance, a callable or a "
                "serialized dict."
            )
        if callable(identifier):
            return identifier
        raise ValueError(
            f"Could not interpret {self.kind} identifier {identifier!r}: expected None, a "
            "name, a dict or a callable."
        )

    def functions(self, *, example, attr, names=None):
        """The area's public `serialize`, `deserialize` and `get`, with their docstrings.

        Args:
            example: a constructor call of one of the area's classes with
                literal arguments, for the examples ("WeightClip(0.5)").
            attr: an attribute that `example` sets.
            names: the text listing the names that `get` builds; by default
                the snake-case names "and the class names".
        """
        call = ast.parse(example, mode="eval").body
        cls = self.objects[call.func.id]
        obj = cls(
            *(ast.literal_eval(a) for a in call.args),
            **{k.arg: ast.literal_eval(k.value) for k in call.keywords},
        )
        snake = [f'"{name}"' for name in self.names if name.islower()]
        get_name = snake[0].strip('"')
        fields = dict(
            area=self.area,
            kind=self.kind,
            example=example,
            registered_name=keras.saving.get_registered_name(cls).split(">")[-1],
            class_name=cls.__name__,
            attr=attr,
            value=getattr(obj, attr),
            names=names or f"{', '.join(snake)} and the class names",
            get_name=get_name,
            get_class=type(self.get(get_name)).__name__,
        )

        def serialize(*args, **kwargs):
            # The parameter is named after the kind (`constraint`, `quantizer`, ...).
            bound = serialize.__signature__.bind(*args, **kwargs)
            return self.serialize(bound.arguments[self.kind])

        def deserialize(config, custom_objects=None):
            return self.deserialize(config, custom_objects)

        def get(identifier):
            return self.get(identifier)

        serialize.__signature__ = inspect.Signature(
            [inspect.Parameter(self.kind, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        )
        module = f"keras_gradstab.{self.area}"
        for function, doc in (
            (serialize, _SERIALIZE_DOC),
            (deserialize, _DESERIALIZE_DOC),
            (get, _GET_DOC),
        ):
            function.__module__ = module
            function.__qualname__ = function.__name__
            function.__doc__ = doc.format(**fields)
        return serialize, deserialize, get


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
