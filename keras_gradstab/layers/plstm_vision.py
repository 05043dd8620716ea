"""The pLSTM vision classifier of Pöppel et al. (2025): patches, an interpolated
position embedding, pLSTM blocks over the patch grid, and corner pooling."""

import keras
import numpy as np
from keras import ops

from keras_gradstab.layers.plstm import MODES, PLSTMBlock, _check_positive_int


def _bilinear_matrix(size_in, size_out):
    """Bilinear resampling weights along one axis, `[size_out, size_in]`.

    Half-pixel centres (as `jax.image.resize` and torch's
    `align_corners=False`): output cell i samples the input at
    (i + 0.5) * size_in / size_out - 0.5, clamped to the border cells.
    """
    matrix = np.zeros((size_out, size_in), "float64")
    for i in range(size_out):
        position = min(max((i + 0.5) * size_in / size_out - 0.5, 0.0), size_in - 1.0)
        low = int(np.floor(position))
        high = min(low + 1, size_in - 1)
        matrix[i, low] += 1.0 - (position - low)
        matrix[i, high] += position - low
    return matrix


@keras.saving.register_keras_serializable(package="keras_gradstab")
class PLSTMVisionClassifier(keras.layers.Layer):
    """An image classifier of pLSTM blocks over a grid of patches.

    The paper's vision model (Pöppel et al., 2025), sized by its arguments:

    1. patch embedding: a `patch_size` x `patch_size` convolution with stride
       `patch_size` to `dim` features;
    2. a learned position embedding on a `position_grid` of patches, resampled
       bilinearly to the grid of the image at hand, so a model trained at one
       image size runs at another (the grid is the image side over
       `patch_size`, rounded down);
    3. one `PLSTMBlock` (pre-norm pLSTM and MLP with residuals) per entry of
       `block_modes` ("P", "D" or "PD"; the paper alternates P and D);
    4. a final RMSNorm, the four corner tokens concatenated (in a P-mode pLSTM
       every cell's state flows to the corners), and a dense head giving
       `num_classes` logits.

    Args:
        num_classes: number of output logits.
        position_grid: `(rows, columns)` of the learned position embedding,
            usually the training image size over `patch_size`; None takes it
            from the input shape at build time.
        patch_size: side of the square patches in pixels.
        dim: features per token.
        num_heads: heads of every pLSTM.
        block_modes: one mode per block.
        mlp_ratio: hidden size of the blocks' MLPs over `dim`.
        num_orientations: 1, 2 or 4 (see `PLSTM2D`).
        form: "parallel" or "recurrent".
        chunk_size: tile side of the parallel form.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: images, `[batch, height, width, channels]`; height and width
            may differ from the ones the model was trained at, but must be
            known (static) where the call is traced.

    Returns:
        Logits, `[batch, num_classes]`.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.layers import PLSTMVisionClassifier
    >>> model = PLSTMVisionClassifier(2, position_grid=(4, 4), patch_size=4, dim=8,
    ...                               num_heads=2, block_modes=("P", "D"))
    >>> tuple(model(np.ones((1, 16, 16, 1), "float32")).shape)
    (1, 2)
    >>> tuple(model(np.ones((1, 32, 32, 1), "float32")).shape)  # twice the size
    (1, 2)

    References:
        - *pLSTM: parallelizable Linear Source Transition Mark networks*, K. Pöppel,
          R. Freinschlag, T. Schmied, W. Lin, S. Hochreiter, 2025.
          <https://arxiv.org/abs/2506.11997>
    """

    def __init__(
        self,
        num_classes,
        position_grid=None,
        patch_size=4,
        dim=64,
        num_heads=4,
        block_modes=("P", "D"),
        mlp_ratio=2,
        num_orientations=4,
        form="parallel",
        chunk_size=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_positive_int("num_classes", num_classes)
        _check_positive_int("patch_size", patch_size)
        _check_positive_int("dim", dim)
        if position_grid is not None:
            if (
                not isinstance(position_grid, (tuple, list))
                or len(position_grid) != 2
                or not all(
                    isinstance(g, int) and not isinstance(g, bool) and g >= 1 for g in position_grid
                )
            ):
                raise ValueError(
                    "`position_grid` must be None or a pair of positive ints; received "
                    f"{position_grid!r}."
                )
            position_grid = tuple(position_grid)
        if (
            isinstance(block_modes, str)
            or not block_modes
            or any(m not in MODES for m in block_modes)
        ):
            raise ValueError(
                f"`block_modes` must be a non-empty sequence of modes from {MODES}; "
                f"received {block_modes!r}."
            )
        self.num_classes = num_classes
        self.position_grid = position_grid
        self.patch_size = patch_size
        self.dim = dim
        self.num_heads = num_heads
        self.block_modes = tuple(block_modes)
        self.mlp_ratio = mlp_ratio
        self.num_orientations = num_orientations
        self.form = form
        self.chunk_size = chunk_size
        policy = self.dtype_policy
        self.patch_embedding = keras.layers.Conv2D(
            dim, patch_size, strides=patch_size, dtype=policy, name="patch_embedding"
        )
        self.blocks = [
            PLSTMBlock(
                num_heads,
                mode=mode,
                mlp_ratio=mlp_ratio,
                num_orientations=num_orientations,
                form=form,
                chunk_size=chunk_size,
                dtype=policy,
                name=f"block_{i}",
            )
            for i, mode in enumerate(self.block_modes)
        ]
        self.final_norm = keras.layers.RMSNormalization(dtype=policy, name="final_norm")
        self.head = keras.layers.Dense(num_classes, dtype=policy, name="head")

    def _grid(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None:
            return None, None
        return height // self.patch_size, width // self.patch_size

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "PLSTMVisionClassifier expects images [batch, height, width, channels]; "
                f"received shape {tuple(input_shape)}."
            )
        if self.position_grid is None:
            grid = self._grid(input_shape)
            if grid[0] is None:
                raise ValueError(
                    "`position_grid` is None and the input's height and width are unknown; "
                    "pass position_grid=(rows, columns)."
                )
            if min(grid) < 1:
                raise ValueError(
                    f"Images of shape {tuple(input_shape)} are smaller than one patch of "
                    f"{self.patch_size} pixels."
                )
            self.position_grid = grid
        rows, columns = self.position_grid
        self.patch_embedding.build(input_shape)
        self.position_embedding = self.add_weight(
            name="position_embedding",
            shape=(rows, columns, self.dim),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        )
        token_shape = (input_shape[0], rows, columns, self.dim)
        for block in self.blocks:
            block.build(token_shape)
        self.final_norm.build(token_shape)
        self.head.build((input_shape[0], 4 * self.dim))

    def resized_position_embedding(self, rows, columns):
        """The position embedding resampled bilinearly to a `rows` x `columns` grid."""
        table = self.position_embedding
        if (rows, columns) == tuple(self.position_grid):
            return table
        along_rows = _bilinear_matrix(self.position_grid[0], rows)
        along_columns = _bilinear_matrix(self.position_grid[1], columns)
        dtype = table.dtype
        table = ops.einsum("ri,ijd->rjd", ops.convert_to_tensor(along_rows, dtype), table)
        return ops.einsum("cj,rjd->rcd", ops.convert_to_tensor(along_columns, dtype), table)

    def call(self, inputs):
        x = self.patch_embedding(inputs)
        rows, columns = x.shape[1], x.shape[2]
        if rows is None or columns is None:
            raise ValueError(
                "PLSTMVisionClassifier needs the image height and width known when it is "
                f"traced; received input shape {tuple(inputs.shape)}. (A TensorFlow "
                "tf.function retraced at a second image size relaxes them to None: use one "
                "model per image size, e.g. keras.Sequential([keras.Input((h, w, c)), layer]) "
                "around the same layer.)"
            )
        x = x + ops.cast(self.resized_position_embedding(rows, columns), x.dtype)
        for block in self.blocks:
            x = block(x)
        x = self.final_norm(x)
        corners = ops.concatenate([x[:, 0, 0], x[:, 0, -1], x[:, -1, 0], x[:, -1, -1]], axis=-1)
        return self.head(corners)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "position_grid": None if self.position_grid is None else list(self.position_grid),
            "patch_size": self.patch_size,
            "dim": self.dim,
            "num_heads": self.num_heads,
            "block_modes": list(self.block_modes),
            "mlp_ratio": self.mlp_ratio,
            "num_orientations": self.num_orientations,
            "form": self.form,
            "chunk_size": self.chunk_size,
        }
