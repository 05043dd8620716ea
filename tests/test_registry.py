"""`get` / `serialize` / `deserialize` of the areas that share keras_gradstab/_registry.py.

Each area resolves its own names, round-trips its own classes through their
config dicts, passes instances through, and hands Keras's names to Keras.
"""

import keras
import pytest

from keras_gradstab import constraints, initializers, regularizers

CASES = [
    # area, one of its names, its class, an instance, a Keras name, the Keras class
    (
        constraints,
        "weight_clip",
        constraints.WeightClip,
        constraints.WeightClip(0.25),
        "non_neg",
        keras.constraints.NonNeg,
    ),
    (
        regularizers,
        "orthogonal_conv",
        regularizers.OrthogonalConv,
        regularizers.OrthogonalConv(0.25),
        "l2",
        keras.regularizers.L2,
    ),
    (
        initializers,
        "delta_orthogonal",
        initializers.DeltaOrthogonal,
        initializers.DeltaOrthogonal(gain=0.25),
        "glorot_uniform",
        keras.initializers.GlorotUniform,
    ),
]


@pytest.mark.parametrize(
    "area,name,cls,instance,keras_name,keras_cls",
    CASES,
    ids=[c[0].__name__.split(".")[-1] for c in CASES],
)
def test_get_serialize_deserialize(area, name, cls, instance, keras_name, keras_cls):
    assert area.get(None) is None
    assert type(area.get(name)) is cls
    assert area.get(instance) is instance
    config = area.serialize(instance)
    assert config["registered_name"].startswith("keras_gradstab>")
    for restored in (area.deserialize(config), area.get(config)):
        assert type(restored) is cls
        assert restored.get_config() == instance.get_config()
    assert type(area.get(keras_name)) is keras_cls
    keras_config = area.serialize(area.get(keras_name))
    assert type(area.get(keras_config)) is keras_cls
    assert type(area.deserialize(keras_config)) is keras_cls
    assert area.serialize(None) is None
    with pytest.raises(ValueError):
        area.get("no_such_name")


def test_serialize_takes_its_argument_by_keyword():
    import keras_gradstab as kg

    for area, obj in (
        ("constraints", kg.constraints.WeightClip(0.5)),
        ("regularizers", kg.regularizers.OrthogonalConv(0.1)),
    ):
        module = getattr(kg, area)
        kind = area[:-1]
        by_keyword = module.serialize(**{kind: obj})
        assert by_keyword == module.serialize(obj)
        assert module.deserialize(by_keyword).get_config() == obj.get_config()
