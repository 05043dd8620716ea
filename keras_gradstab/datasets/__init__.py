"""Deterministic, seeded data sets generated locally (no download).

Each returns `(x_train, y_train), (x_test, y_test)` like `keras.datasets`, except
`pydoc_text`, which also returns a validation split between the two.
`register_tfds_builders()` registers each of the others as a tensorflow-datasets builder that
generates locally (`tfds.load("gradstab_copying/t100")` works offline).
"""

from keras_gradstab.datasets.arrow_pointing import arrow_pointing
from keras_gradstab.datasets.breast_cancer import breast_cancer
from keras_gradstab.datasets.digits import digits, mnist1d
from keras_gradstab.datasets.long_memory import adding, copying, copying_baseline
from keras_gradstab.datasets.text import pydoc_text, pydoc_text_vocabulary

__all__ = [
    "adding",
    "arrow_pointing",
    "breast_cancer",
    "copying",
    "copying_baseline",
    "digits",
    "mnist1d",
    "pydoc_text",
    "pydoc_text_vocabulary",
    "register_tfds_builders",
]


def register_tfds_builders():
    """Registers every generator as a tensorflow-datasets builder; returns their names.

    Imports `keras_gradstab.datasets.tfds_builders` (and so `tensorflow_datasets`,
    in the `data` extra). The builders `gradstab_copying`, `gradstab_adding`,
    `gradstab_digits`, `gradstab_mnist1d`, `gradstab_breast_cancer` and
    `gradstab_arrow_pointing` generate their examples locally: `tfds.load`
    needs no network. Calling it again is harmless.

    Returns:
        The sorted list of builder names.

    Example:

    >>> from keras_gradstab import datasets
    >>> datasets.register_tfds_builders()[:2]
    ['gradstab_adding', 'gradstab_arrow_pointing']
    """
    try:
        from keras_gradstab.datasets import tfds_builders
    except ImportError as e:
        if e.name != "tensorflow_datasets":
            raise
        raise ImportError(
            "register_tfds_builders needs tensorflow-datasets: pip install 'keras_gradstab[data]'"
        ) from e
    return sorted(tfds_builders.BUILDERS)
