"""Each generator, loaded through its tensorflow-datasets builder, equals the generator.

`tfds.load` prepares the data locally into a temporary `data_dir` (no network);
the examples must come back in the generator's order, exactly equal.
"""

import numpy as np
import pytest

tfds = pytest.importorskip(
    "tensorflow_datasets", reason="tensorflow-datasets (the `data` extra) is not installed"
)

from keras_gradstab import datasets  # noqa: E402

datasets.register_tfds_builders()
from keras_gradstab.datasets import tfds_builders  # noqa: E402


def load_both_splits(family, data_dir, **kwargs):
    config = tfds_builders.tfds_config(family, **kwargs)
    splits = tfds.load(
        f"gradstab_{family}",
        split=["train", "test"],
        as_supervised=True,
        data_dir=str(data_dir),
        builder_kwargs={"config": config},
    )
    out = []
    for split in splits:
        pairs = list(tfds.as_numpy(split))
        out.append((np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])))
    return out


def assert_same(loaded, generated):
    for (x, y), (gx, gy) in zip(loaded, generated):
        assert x.dtype == gx.dtype and y.dtype == gy.dtype
        np.testing.assert_array_equal(x, gx)
        np.testing.assert_array_equal(y, gy)


def test_registered_names_and_named_configs():
    assert datasets.register_tfds_builders() == sorted(
        f"gradstab_{f}" for f in tfds_builders.FAMILIES
    )
    assert "gradstab_copying" in tfds.list_builders(with_community_datasets=False)
    builder = tfds.builder("gradstab_copying/t200", data_dir="/nonexistent")
    assert builder.info.features["x"].shape == (220,)  # T + 2 * copy_length


@pytest.mark.parametrize(
    "family,kwargs",
    [
        ("copying", {"time_steps": 6, "num_train": 5, "num_test": 3, "seed": 4}),
        ("adding", {"time_steps": 9, "num_train": 5, "num_test": 3, "seed": 4}),
    ],
)
def test_long_memory_builders(family, kwargs, tmp_path):
    generator = getattr(datasets, family)
    assert_same(load_both_splits(family, tmp_path, **kwargs), generator(**kwargs))


def test_digits_builder_permuted_sequences(tmp_path):
    kwargs = {"sequential": True, "permuted": True, "test_fraction": 0.5, "seed": 2}
    assert_same(load_both_splits("digits", tmp_path, **kwargs), datasets.digits(**kwargs))


def test_breast_cancer_builder(tmp_path):
    kwargs = {"test_fraction": 0.3, "seed": 5}
    assert_same(
        load_both_splits("breast_cancer", tmp_path, **kwargs), datasets.breast_cancer(**kwargs)
    )


def test_mnist1d_builder(tmp_path):
    pytest.importorskip("mnist1d")
    kwargs = {"num_samples": 30, "seed": 1}
    assert_same(load_both_splits("mnist1d", tmp_path, **kwargs), datasets.mnist1d(**kwargs))


def test_arrow_pointing_builder(tmp_path):
    kwargs = {"image_size": 32, "num_train": 4, "num_test": 2, "seed": 5}
    assert_same(
        load_both_splits("arrow_pointing", tmp_path, **kwargs), datasets.arrow_pointing(**kwargs)
    )


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="family"):
        tfds_builders.tfds_config("cifar", seed=0)
