"""The shared layer checks, run on a layer built on ops.scan; and proof they can fail."""

import keras
import pytest
from harness import check_layer
from layers_for_tests import ScanSimpleRNN


@pytest.mark.parametrize(
    "kwargs,out",
    [
        ({"units": 4}, (2, 4)),
        ({"units": 3, "go_backwards": True, "return_sequences": True}, (2, 6, 3)),
    ],
)
def test_scan_layer_passes_layer_checks(kwargs, out, tmp_path):
    check_layer(ScanSimpleRNN, kwargs, (2, 6, 5), expected_output_shape=out, tmp_path=tmp_path)


class _Unregistered(keras.layers.Dense):
    pass


class _Frozen(keras.layers.Layer):
    """Has one live weight and one that no gradient reaches."""

    def build(self, input_shape):
        self.live = self.add_weight(name="live", shape=(input_shape[-1],), initializer="ones")
        self.dead = self.add_weight(name="dead", shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.live + keras.ops.stop_gradient(self.dead)


def test_harness_catches_unregistered_class():
    with pytest.raises(AssertionError, match="registered"):
        check_layer(_Unregistered, {"units": 2}, (2, 3))


def test_harness_catches_dead_gradients():
    keras.saving.register_keras_serializable(package="keras_gradstab_tests")(_Frozen)
    with pytest.raises(AssertionError, match="dead.*unchanged"):
        check_layer(_Frozen, {}, (2, 3), run_jit=False, run_mixed_precision=False)
    # ...and accepts it when told.
    check_layer(
        _Frozen,
        {},
        (2, 3),
        run_jit=False,
        run_mixed_precision=False,
        weights_without_gradient=("dead",),
    )
