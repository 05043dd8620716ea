"""tensorflow-datasets builders for the generators of `keras_gradstab.datasets`.

Importing this module imports `tensorflow_datasets` (the `data` extra) and
registers one builder per generator; `datasets.register_tfds_builders()` does it
for you. The builders generate their examples locally with the NumPy
generators, so `tfds.load("gradstab_copying/t100")` works with no network. Every
example is a dict `{"x": ..., "y": ...}` (`as_supervised=True` gives the pairs),
in the generators' order, with their `train` and `test` splits.

Each builder has a few named configs (the generators' usual settings) and
accepts any other arguments through `tfds_config`:

    import tensorflow_datasets as tfds
    from keras_gradstab import datasets

    datasets.register_tfds_builders()
    train = tfds.load("gradstab_digits/permuted", split="train", as_supervised=True)
    config = datasets.tfds_builders.tfds_config("copying", time_steps=50, seed=3)
    test = tfds.load("gradstab_copying", split="test", builder_kwargs={"config": config})
"""

import hashlib
import json

import numpy as np
import tensorflow_datasets as tfds

from keras_gradstab.datasets.arrow_pointing import arrow_pointing
from keras_gradstab.datasets.breast_cancer import breast_cancer
from keras_gradstab.datasets.digits import digits, mnist1d
from keras_gradstab.datasets.long_memory import adding, copying

VERSION = tfds.core.Version("1.0.0")


class GeneratorConfig(tfds.core.BuilderConfig):
    """A builder config holding the generator's keyword arguments."""

    def __init__(self, *, name, kwargs, description=None):
        super().__init__(name=name, version=VERSION, description=description or name)
        self.kwargs = dict(kwargs)


def _shape_copying(kwargs):
    length = kwargs["time_steps"] + 2 * kwargs.get("copy_length", 10)
    return ((length,), "int32"), ((length,), "int32")


def _shape_adding(kwargs):
    return ((kwargs["time_steps"], 2), "float32"), ((1,), "float32")


def _shape_digits(kwargs):
    x = (64, 1) if kwargs.get("sequential") else (8, 8, 1)
    return (x, "float32"), ((), "int32")


def _shape_mnist1d(kwargs):
    return ((40, 1), "float32"), ((), "int32")


def _shape_breast_cancer(kwargs):
    return ((30,), "float32"), ((), "int32")


def _shape_arrow(kwargs):
    size = kwargs.get("image_size", 64)
    return ((size, size, 1), "float32"), ((), "int32")


def _configs(*items):
    return [GeneratorConfig(name=name, kwargs=kwargs) for name, kwargs in items]


# name -> (generator, feature shapes from kwargs, named configs)
FAMILIES = {
    "copying": (
        copying,
        _shape_copying,
        _configs(
            ("t100", {"time_steps": 100}),
            ("t200", {"time_steps": 200}),
            ("t1000", {"time_steps": 1000}),
        ),
    ),
    "adding": (
        adding,
        _shape_adding,
        _configs(
            ("t100", {"time_steps": 100}),
            ("t200", {"time_steps": 200}),
            ("t750", {"time_steps": 750}),
        ),
    ),
    "digits": (
        digits,
        _shape_digits,
        _configs(
            ("images", {}),
            ("sequential", {"sequential": True}),
            ("permuted", {"sequential": True, "permuted": True}),
        ),
    ),
    "mnist1d": (mnist1d, _shape_mnist1d, _configs(("default", {}))),
    "breast_cancer": (breast_cancer, _shape_breast_cancer, _configs(("default", {}))),
    "arrow_pointing": (
        arrow_pointing,
        _shape_arrow,
        _configs(
            ("size64", {"image_size": 64}),
            ("size128", {"image_size": 128}),
            ("size192", {"image_size": 192}),
        ),
    ),
}


class _GeneratorBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Shared body: features from the config, examples from the NumPy generator."""

    VERSION = VERSION
    FAMILY = None

    def _info(self):
        _, shapes, _ = FAMILIES[self.FAMILY]
        (x_shape, x_dtype), (y_shape, y_dtype) = shapes(self.builder_config.kwargs)
        return self.dataset_info_from_configs(
            description=f"keras_gradstab.datasets.{self.FAMILY}, generated locally.",
            features=tfds.features.FeaturesDict(
                {
                    "x": tfds.features.Tensor(shape=x_shape, dtype=np.dtype(x_dtype)),
                    "y": tfds.features.Tensor(shape=y_shape, dtype=np.dtype(y_dtype)),
                }
            ),
            supervised_keys=("x", "y"),
            disable_shuffling=True,  # keep the generator's order
        )

    def _split_generators(self, dl_manager):
        generator, _, _ = FAMILIES[self.FAMILY]
        train, test = generator(**self.builder_config.kwargs)
        return {"train": self._generate_examples(train), "test": self._generate_examples(test)}

    def _generate_examples(self, split):
        x, y = split[0], split[1]
        for i in range(len(x)):
            yield i, {"x": np.asarray(x[i]), "y": np.asarray(y[i])}


def _builder_class(family):
    # Defining the subclass registers it under its snake_case name, e.g.
    # GradstabArrowPointing -> gradstab_arrow_pointing.
    name = "Gradstab" + "".join(part.capitalize() for part in family.split("_"))
    return type(
        name,
        (_GeneratorBuilder,),
        {
            "__module__": __name__,
            "__doc__": f"`keras_gradstab.datasets.{family}` as a tensorflow-datasets builder.",
            "FAMILY": family,
            "BUILDER_CONFIGS": FAMILIES[family][2],
        },
    )


BUILDERS = {cls.name: cls for cls in map(_builder_class, FAMILIES)}


def tfds_config(family, name=None, **kwargs):
    """A config of the `gradstab_<family>` builder with any generator arguments.

    Args:
        family: a key of `FAMILIES` ("copying", "adding", "digits", "mnist1d",
            "breast_cancer", "arrow_pointing").
        name: the config's name (its folder under `data_dir`); default: derived
            from a hash of `kwargs`.
        **kwargs: the generator's keyword arguments.

    Returns:
        A `GeneratorConfig`; pass it as `builder_kwargs={"config": config}`.

    Example:

    >>> from keras_gradstab.datasets import tfds_builders
    >>> config = tfds_builders.tfds_config("copying", time_steps=20, num_train=8)
    >>> config.kwargs["time_steps"]
    20
    """
    if family not in FAMILIES:
        raise ValueError(f"`family` must be one of {sorted(FAMILIES)}; received {family!r}.")
    if name is None:
        digest = hashlib.sha1(json.dumps(kwargs, sort_keys=True).encode()).hexdigest()[:10]
        name = f"custom_{digest}"
    return GeneratorConfig(name=name, kwargs=kwargs)
