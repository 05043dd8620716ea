"""PLSTMVisionClassifier: the shared layer checks, the position embedding resampled
to other image sizes against a NumPy loop, corner pooling against a NumPy forward
of the head, and one set of weights run at two image sizes from its JSON config."""

import keras
import numpy as np
import pytest
from harness import BACKEND, check_layer
from keras import ops

from keras_gradstab.layers import PLSTMVisionClassifier

# One block with a P-mode and a D-mode head, two orientations: every path of the
# layer at a fraction of the compile time of the paper's P, D, P, D... stack.
SMALL = {
    "num_classes": 3,
    "position_grid": (2, 3),
    "patch_size": 2,
    "dim": 4,
    "num_heads": 2,
    "block_modes": ("PD",),
    "mlp_ratio": 1,
    "num_orientations": 2,
    "chunk_size": 2,
}


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def test_classifier_layer_checks(tmp_path):
    check_layer(
        PLSTMVisionClassifier, SMALL, (2, 4, 6, 1), expected_output_shape=(2, 3), tmp_path=tmp_path
    )


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="`position_grid`"):
        PLSTMVisionClassifier(2, position_grid=(4,))
    with pytest.raises(ValueError, match="`block_modes`"):
        PLSTMVisionClassifier(2, block_modes="PD")
    with pytest.raises(ValueError, match="`block_modes`"):
        PLSTMVisionClassifier(2, block_modes=("P", "X"))
    with pytest.raises(ValueError, match="`patch_size`"):
        PLSTMVisionClassifier(2, patch_size=0)
    with pytest.raises(ValueError, match="position_grid"):
        PLSTMVisionClassifier(2).build((1, None, None, 1))


def bilinear_reference(table, rows, columns):
    """Resamples `table` [R, C, D] to [rows, columns, D], one output cell at a time:
    half-pixel centres, borders clamped (the convention of jax.image.resize and
    torch's align_corners=False, without antialiasing)."""
    size_r, size_c = table.shape[:2]
    out = np.zeros((rows, columns, table.shape[2]))
    for i in range(rows):
        u = np.clip((i + 0.5) * size_r / rows - 0.5, 0, size_r - 1)
        for j in range(columns):
            w = np.clip((j + 0.5) * size_c / columns - 0.5, 0, size_c - 1)
            r0, c0 = int(u), int(w)
            r1, c1 = min(r0 + 1, size_r - 1), min(c0 + 1, size_c - 1)
            fu, fw = u - r0, w - c0
            out[i, j] = (
                (1 - fu) * (1 - fw) * table[r0, c0]
                + (1 - fu) * fw * table[r0, c1]
                + fu * (1 - fw) * table[r1, c0]
                + fu * fw * table[r1, c1]
            )
    return out


@pytest.mark.parametrize("target", [(6, 8), (3, 5), (2, 3), (1, 7)])
def test_position_embedding_resampling_matches_numpy(target):
    layer = PLSTMVisionClassifier(
        2, position_grid=(3, 4), patch_size=2, dim=5, num_heads=1, block_modes=("D",)
    )
    layer.build((1, 6, 8, 1))
    table = np.random.default_rng(0).normal(size=(3, 4, 5)).astype("float32")
    layer.position_embedding.assign(table)
    got = numpy(layer.resized_position_embedding(*target))
    np.testing.assert_allclose(got, bilinear_reference(table.astype("float64"), *target), atol=1e-6)
    if target == (6, 8):
        # Doubling a grid: interior cells are 3/4-1/4 mixes of their neighbours.
        np.testing.assert_allclose(
            got[2, 2],
            0.75 * (0.75 * table[1, 1] + 0.25 * table[1, 0])
            + 0.25 * (0.75 * table[0, 1] + 0.25 * table[0, 0]),
            atol=1e-6,
        )


def _tokens_before_head(layer, images):
    """The layer's own sublayers up to the final norm, with the NumPy-resampled
    position embedding added, so the head and the pooling can be checked."""
    x = numpy(layer.patch_embedding(images))
    table = bilinear_reference(
        numpy(layer.position_embedding).astype("float64"), x.shape[1], x.shape[2]
    )

    def blocks(x):
        for block in layer.blocks:
            x = block(x)
        return layer.final_norm(x)

    if BACKEND == "jax":  # eager JAX compiles every op for every shape
        import jax

        blocks = jax.jit(blocks)
    return numpy(blocks(ops.convert_to_tensor((x + table).astype("float32")))).astype("float64")


def test_same_weights_run_at_two_image_sizes_with_corner_pooling():
    rng = np.random.default_rng(1)
    kwargs = dict(SMALL, position_grid=(3, 3))
    layer = PLSTMVisionClassifier(**kwargs)
    model = keras.Sequential([keras.Input((None, None, 1)), layer])
    layer.position_embedding.assign(rng.normal(size=(3, 3, 4)).astype("float32"))
    # The model rebuilt from its JSON config with the same weights, as presets are.
    rebuilt = keras.models.model_from_json(model.to_json())
    rebuilt.set_weights(model.get_weights())
    head_kernel, head_bias = (numpy(w).astype("float64") for w in layer.head.weights)
    for size in (6, 12):  # a 3 x 3 grid of patches (the trained one), then 6 x 6
        images = rng.normal(size=(2, size, size, 1)).astype("float32")
        # One model per size around the same layer: a tf.function retraced at a
        # second size would see height and width as None.
        sized = keras.Sequential([keras.Input((size, size, 1)), rebuilt.layers[-1]])
        got = numpy(sized.predict(images, verbose=0))
        tokens = _tokens_before_head(layer, images)
        corners = np.concatenate(
            [tokens[:, 0, 0], tokens[:, 0, -1], tokens[:, -1, 0], tokens[:, -1, -1]], -1
        )
        np.testing.assert_allclose(got, corners @ head_kernel + head_bias, atol=2e-5, rtol=1e-4)
    # At twice the size the position embedding is resampled, not cropped or tiled:
    # zeroing it changes the output.
    layer.position_embedding.assign(np.zeros((3, 3, 4), "float32"))
    zeroed = keras.Sequential([keras.Input((12, 12, 1)), layer])
    assert not np.allclose(numpy(zeroed.predict(images, verbose=0)), got, atol=1e-4)
