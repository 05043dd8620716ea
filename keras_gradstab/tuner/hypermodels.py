"""keras-tuner hypermodels, one per model family of the zoo.

Each `build(hp)` returns a compiled model for the data shape given to the
constructor: the hyperparameters drawn from `hp` (depth, units, Neumann terms,
Lorth factor, ReSTE o_end, pLSTM mode, learning rate, ...) set the architecture
and the optimizer. ReSTE's `o_end` acts during training, so
`ReSTEBNNHyperModel.fit` adds the `ReSTESchedule` callback it selects.
"""

import keras

try:
    import keras_tuner
except ImportError as e:  # pragma: no cover (the tests run with the tuner extra)
    raise ImportError(
        "keras_gradstab.tuner needs keras-tuner: pip install 'keras_gradstab[tuner]'"
    ) from e

from keras_gradstab import layers, models, quantizers, regularizers
from keras_gradstab.callbacks import ReSTESchedule

RECURRENT_CELLS = ("ncgru", "scornn", "enrnn")


def _check_shape(input_shape, ndim, family, allow_unknown=False):
    shape = tuple(input_shape)

    def bad(n):
        if n is None:
            return not allow_unknown
        return isinstance(n, bool) or not isinstance(n, int) or n < 1

    if len(shape) != ndim or any(bad(n) for n in shape):
        raise ValueError(
            f"{family} needs an `input_shape` of {ndim} positive integers (one example, "
            f"without the batch axis); received {input_shape!r}."
        )
    return shape


def _check_classes(num_classes):
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"`num_classes` must be an integer >= 2; received {num_classes!r}.")
    return num_classes


def _ints(values):
    return tuple(int(v) for v in values)


def _floats(values):
    return tuple(float(v) for v in values)


class _ClassifierHyperModel(keras_tuner.HyperModel):
    """Shared parts: the data shape, the learning-rate range and `compile`."""

    ndim = 1
    allow_unknown = False

    def __init__(
        self, input_shape, num_classes, learning_rate=(1e-4, 1e-2), name=None, tunable=True
    ):
        super().__init__(name=name, tunable=tunable)
        self.input_shape = _check_shape(
            input_shape, self.ndim, type(self).__name__, self.allow_unknown
        )
        self.num_classes = _check_classes(num_classes)
        low, high = (float(v) for v in learning_rate)
        if not 0 < low <= high:
            raise ValueError(
                "`learning_rate` must be a (low, high) range with 0 < low <= high; "
                f"received {learning_rate!r}."
            )
        self.learning_rate = (low, high)

    def _compile(self, hp, model):
        low, high = self.learning_rate
        rate = hp.Float("learning_rate", low, high, sampling="log") if low < high else low
        model.compile(
            optimizer=keras.optimizers.Adam(rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    def _head(self, hp, inputs, x, name):
        """The compiled model of `inputs` through `x` and a `Dense` of the class logits."""
        outputs = keras.layers.Dense(self.num_classes, name="logits")(x)
        return self._compile(hp, keras.Model(inputs, outputs, name=name))


class SNNHyperModel(_ClassifierHyperModel):
    """Self-normalizing MLP (`keras_gradstab.models.snn`): depth, units, dropout.

    Hyperparameters: `depth` (hidden layers), `units` (width), `dropout`
    (AlphaDropout rate) and `learning_rate` (Adam, log scale). The head is a
    `Dense(num_classes)` giving logits.

    Args:
        input_shape: shape of one example (any rank; it is flattened).
        num_classes: number of classes.
        depth: `(min, max)` of the hidden layers.
        units: the widths to choose from.
        dropout: `(min, max)` of the AlphaDropout rate.
        **kwargs: `learning_rate` (Adam's, `(min, max)` searched on a log scale), `name`, `tunable`.

    Example:

    >>> import keras_tuner
    >>> from keras_gradstab import tuner
    >>> hypermodel = tuner.SNNHyperModel((8, 8, 1), 10, depth=(2, 4))
    >>> model = hypermodel.build(keras_tuner.HyperParameters())
    >>> model.output_shape
    (None, 10)
    """

    ndim = None

    def __init__(
        self,
        input_shape,
        num_classes,
        depth=(4, 16),
        units=(64, 128, 256),
        dropout=(0.0, 0.1),
        **kwargs,
    ):
        self.ndim = len(tuple(input_shape))
        super().__init__(input_shape, num_classes, **kwargs)
        self.depth = _ints(depth)
        self.units = _ints(units)
        self.dropout = _floats(dropout)

    def build(self, hp):
        model = models.snn(
            self.input_shape,
            units=hp.Choice("units", list(self.units)),
            depth=hp.Int("depth", *self.depth),
            dropout_rate=hp.Float("dropout", *self.dropout),
            output_units=self.num_classes,
            name="snn",
        )
        return self._compile(hp, model)


class OrthogonalCNNHyperModel(_ClassifierHyperModel):
    """CNN with orthogonal convolutions: the Lorth penalty's factor or exact ones.

    Hyperparameters: `conv` ("lorth": circular padding + `Conv2D` with the
    `regularizers.OrthogonalConv` penalty of factor `lorth_factor`, or "exact":
    `layers.OrthogonalConv2D`), `filters`, `learning_rate`. Two convolutions
    (the second with stride 2), global average pooling and a Dense head.

    Args:
        input_shape: `(rows, cols, channels)`.
        num_classes: number of classes.
        filters: the channel counts to choose from.
        lorth_factor: `(min, max)` of the penalty factor, searched on a log scale.
        conv: the convolution kinds to choose from, among "lorth" and "exact".
        **kwargs: `learning_rate` (Adam's, `(min, max)` searched on a log scale), `name`, `tunable`.

    Example:

    >>> import keras_tuner
    >>> from keras_gradstab import tuner
    >>> hp = keras_tuner.HyperParameters()
    >>> hp.Fixed("conv", "exact")
    'exact'
    >>> model = tuner.OrthogonalCNNHyperModel((8, 8, 1), 10).build(hp)
    >>> model.get_layer("conv_0").__class__.__name__
    'OrthogonalConv2D'
    """

    ndim = 3

    def __init__(
        self,
        input_shape,
        num_classes,
        filters=(16, 32),
        lorth_factor=(1e-3, 1.0),
        conv=("lorth", "exact"),
        **kwargs,
    ):
        super().__init__(input_shape, num_classes, **kwargs)
        self.filters = _ints(filters)
        self.lorth_factor = _floats(lorth_factor)
        bad = set(conv) - {"lorth", "exact"}
        if not conv or bad:
            raise ValueError(f"`conv` must name 'lorth' and/or 'exact'; received {conv!r}.")
        self.conv = tuple(conv)

    def build(self, hp):
        kind = hp.Choice("conv", list(self.conv))
        filters = hp.Choice("filters", list(self.filters))
        factor = None
        if kind == "lorth":
            with hp.conditional_scope("conv", ["lorth"]):
                factor = hp.Float("lorth_factor", *self.lorth_factor, sampling="log")
        inputs = keras.Input(self.input_shape)
        x = inputs
        for i, stride in enumerate((1, 2)):
            if kind == "exact":
                x = layers.OrthogonalConv2D(filters, 3, strides=stride, name=f"conv_{i}")(x)
            else:
                x = layers.CircularPadding2D(1, name=f"pad_{i}")(x)
                x = keras.layers.Conv2D(
                    filters,
                    3,
                    strides=stride,
                    name=f"conv_{i}",
                    kernel_regularizer=regularizers.OrthogonalConv(factor, strides=stride),
                )(x)
            x = keras.layers.Activation("relu")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return self._head(hp, inputs, x, "orthogonal_cnn")


class RecurrentHyperModel(_ClassifierHyperModel):
    """Orthogonal or normalized recurrent classifier: NC-GRU, scoRNN or ENRNN.

    Hyperparameters: `cell` (when several are offered), `units` (for ENRNN the
    orthogonal block; the normalized block gets `normalized_units`), for NC-GRU
    `cayley_inverse` ("solve" or "neumann") and, for "neumann", `neumann_terms`;
    and `learning_rate`. Integer token inputs (`vocabulary_size` set) are
    embedded first; `return_sequences=True` gives one prediction per step (the
    copying task), otherwise one per sequence.

    Args:
        input_shape: `(timesteps, features)`, or `(timesteps,)` for tokens.
        num_classes: number of classes.
        cell: "ncgru", "scornn", "enrnn", or a list of them to choose from.
        units: the state sizes to choose from.
        normalized_units: the ENRNN normalized-block sizes to choose from.
        neumann_terms: `(min, max)` of the Neumann series' terms.
        cayley_inverse: the NC-GRU inverses to choose from.
        vocabulary_size: number of token values for integer inputs, else None.
        return_sequences: predict at every step instead of once per sequence.
        **kwargs: `learning_rate` (Adam's, `(min, max)` searched on a log scale), `name`, `tunable`.

    Example:

    >>> import keras_tuner
    >>> from keras_gradstab import tuner
    >>> hp = keras_tuner.HyperParameters()
    >>> hp.Fixed("cayley_inverse", "neumann")
    'neumann'
    >>> model = tuner.RecurrentHyperModel((40, 1), 10, units=(16,)).build(hp)
    >>> model.get_layer("recurrent").cell.cayley_inverse
    'neumann'
    """

    ndim = None

    def __init__(
        self,
        input_shape,
        num_classes,
        cell="ncgru",
        units=(32, 64, 128),
        normalized_units=(8, 16),
        neumann_terms=(1, 6),
        cayley_inverse=("solve", "neumann"),
        vocabulary_size=None,
        return_sequences=False,
        **kwargs,
    ):
        self.ndim = 1 if vocabulary_size else 2
        super().__init__(input_shape, num_classes, **kwargs)
        cells = (cell,) if isinstance(cell, str) else tuple(cell)
        if not cells or set(cells) - set(RECURRENT_CELLS):
            raise ValueError(
                f"`cell` must be one of {RECURRENT_CELLS} or a list of them; received {cell!r}."
            )
        self.cells = cells
        self.units = _ints(units)
        self.normalized_units = _ints(normalized_units)
        self.neumann_terms = _ints(neumann_terms)
        self.cayley_inverse = tuple(cayley_inverse)
        self.vocabulary_size = vocabulary_size
        self.return_sequences = bool(return_sequences)

    def _recurrent(self, hp):
        cell = self.cells[0] if len(self.cells) == 1 else hp.Choice("cell", list(self.cells))
        units = hp.Choice("units", list(self.units))
        common = {"return_sequences": self.return_sequences, "name": "recurrent"}
        if cell == "ncgru":
            inverse = hp.Choice("cayley_inverse", list(self.cayley_inverse))
            terms = 6
            if inverse == "neumann":
                with hp.conditional_scope("cayley_inverse", ["neumann"]):
                    terms = hp.Int("neumann_terms", *self.neumann_terms)
            return layers.NCGRU(units, cayley_inverse=inverse, neumann_terms=terms, **common)
        if cell == "scornn":
            return layers.ScoRNN(units, **common)
        normalized = hp.Choice("normalized_units", list(self.normalized_units))
        return layers.ENRNN(units, normalized, **common)

    def build(self, hp):
        if self.vocabulary_size:
            inputs = keras.Input(self.input_shape, dtype="int32")
            x = keras.layers.Embedding(
                self.vocabulary_size, self.vocabulary_size, name="embedding"
            )(inputs)
        else:
            inputs = keras.Input(self.input_shape)
            x = inputs
        x = self._recurrent(hp)(x)
        return self._head(hp, inputs, x, "recurrent_classifier")


class ReSTEBNNHyperModel(_ClassifierHyperModel):
    """Binarized CNN (1-bit weights and activations) trained with ReSTE.

    As the ReSTE paper: a full-precision first convolution and last Dense
    layer, binarized `QuantConv2D` / `QuantDense` in between with the ReSTE
    quantizer on inputs and kernels, batch normalization after each.
    Hyperparameters: `o_end` (the end of ReSTE's cosine schedule of `o`, applied
    by `fit` through `callbacks.ReSTESchedule`), `width`, `learning_rate`.

    Args:
        input_shape: `(rows, cols, channels)`.
        num_classes: number of classes.
        o_end: `(min, max)` of the schedule's end value (3 in the paper).
        width: the channel counts to choose from.
        **kwargs: `learning_rate` (Adam's, `(min, max)` searched on a log scale), `name`, `tunable`.

    Example:

    >>> import keras_tuner
    >>> from keras_gradstab import tuner
    >>> hp = keras_tuner.HyperParameters()
    >>> model = tuner.ReSTEBNNHyperModel((8, 8, 1), 10, width=(8,)).build(hp)
    >>> round(hp.get("o_end"), 2)
    1.5
    """

    ndim = 3

    def __init__(
        self,
        input_shape,
        num_classes,
        o_end=(1.5, 4.0),
        width=(16, 32),
        **kwargs,
    ):
        super().__init__(input_shape, num_classes, **kwargs)
        self.o_end = _floats(o_end)
        self.width = _ints(width)

    def build(self, hp):
        hp.Float("o_end", *self.o_end)
        width = hp.Choice("width", list(self.width))

        def binary():
            return {
                "input_quantizer": quantizers.ReSTE(),
                "kernel_quantizer": quantizers.ReSTE(),
                "use_bias": False,
            }

        inputs = keras.Input(self.input_shape)
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(inputs)
        x = keras.layers.BatchNormalization()(x)
        x = layers.QuantConv2D(width, 3, padding="same", pad_values=1.0, **binary())(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Flatten()(x)
        x = layers.QuantDense(2 * width, **binary())(x)
        x = keras.layers.BatchNormalization()(x)
        return self._head(hp, inputs, x, "reste_bnn")

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        """Trains `model`, moving ReSTE's `o` from 1 to the trial's `o_end`."""
        schedule = ReSTESchedule(o_end=hp.get("o_end"))
        return model.fit(*args, callbacks=[*(callbacks or []), schedule], **kwargs)


class PLSTMHyperModel(_ClassifierHyperModel):
    """pLSTM vision classifier: patch embedding, pLSTM blocks, pooled head.

    Hyperparameters: `mode` ("P", "D" or "PD"), `num_heads`, `dim` (features
    per patch), `depth` (blocks), `learning_rate`. A strided convolution cuts the
    image into `patch_size` patches; `layers.PLSTMBlock`s run over the grid of
    patches; global average pooling and a Dense head follow. Pooling makes the
    model apply to larger images than it was trained on.

    Args:
        input_shape: `(rows, cols, channels)`; rows and cols may be None.
        num_classes: number of classes.
        patch_size: side of the square patches.
        mode: the pLSTM modes to choose from.
        num_heads: the head counts to choose from.
        dim: the feature sizes to choose from (each divisible by every head count).
        depth: `(min, max)` of the number of blocks.
        **kwargs: `learning_rate` (Adam's, `(min, max)` searched on a log scale), `name`, `tunable`.

    Example:

    >>> import keras_tuner
    >>> from keras_gradstab import tuner
    >>> hp = keras_tuner.HyperParameters()
    >>> hp.Fixed("mode", "D")
    'D'
    >>> model = tuner.PLSTMHyperModel((16, 16, 1), 2, patch_size=4, dim=(8,)).build(hp)
    >>> model.get_layer("plstm_0").mode
    'D'
    """

    ndim = 3
    allow_unknown = True

    def __init__(
        self,
        input_shape,
        num_classes,
        patch_size=4,
        mode=("P", "D", "PD"),
        num_heads=(2, 4),
        dim=(16, 32),
        depth=(1, 2),
        **kwargs,
    ):
        super().__init__(input_shape, num_classes, **kwargs)
        bad = set(mode) - {"P", "D", "PD"}
        if not mode or bad:
            raise ValueError(f"`mode` must name 'P', 'D' and/or 'PD'; received {mode!r}.")
        self.patch_size = int(patch_size)
        self.mode = tuple(mode)
        self.num_heads = _ints(num_heads)
        self.dim = _ints(dim)
        for d in self.dim:
            for h in self.num_heads:
                if d % h:
                    raise ValueError(
                        f"Every `dim` must be divisible by every `num_heads`; received "
                        f"dim={dim!r}, num_heads={num_heads!r}."
                    )
        self.depth = _ints(depth)

    def build(self, hp):
        mode = hp.Choice("mode", list(self.mode))
        heads = hp.Choice("num_heads", list(self.num_heads))
        dim = hp.Choice("dim", list(self.dim))
        depth = hp.Int("depth", *self.depth)
        inputs = keras.Input(self.input_shape)
        x = keras.layers.Conv2D(
            dim, self.patch_size, strides=self.patch_size, name="patch_embedding"
        )(inputs)
        for i in range(depth):
            x = layers.PLSTMBlock(heads, mode=mode, name=f"plstm_{i}")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return self._head(hp, inputs, x, "plstm_classifier")
