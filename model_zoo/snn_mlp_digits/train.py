"""Recipe: a 16-layer self-normalizing MLP on scikit-learn's digits (preset snn_mlp_digits).

The model is `keras_gradstab.models.snn`: a `Normalization` layer adapted on the
training images (standardized inputs), 16 hidden `Dense(64)` layers with selu and
lecun_normal, `AlphaDropout(0.05)` after each, and a `Dense(10)` head (logits).
The baseline is the same stack with relu, he_normal and `BatchNormalization`
after each hidden layer (the usual way to train a deep plain MLP), trained with
the same optimizer, schedule, batch size, epochs and seed.

    KERAS_BACKEND=jax python -m model_zoo.snn_mlp_digits.train             # full
    KERAS_BACKEND=jax python -m model_zoo.snn_mlp_digits.train --quick --out /tmp/x

The full run writes the preset to `keras_gradstab/zoo/presets/snn_mlp_digits`
(or `--out DIR`) and prints both test accuracies.
"""

from keras_gradstab.models import snn
from model_zoo import _digits

NAME = "snn_mlp_digits"


def build_snn(depth=16, units=64, dropout_rate=0.05):
    return snn(
        (8, 8, 1),
        units=units,
        depth=depth,
        output_units=10,
        dropout_rate=dropout_rate,
        standardize=True,
        name=NAME,
    )


def build_baseline(depth=16, units=64):
    """The same depth and width, relu + he_normal + BatchNormalization, no SNN parts."""
    return _digits.relu_bn_mlp(
        (8, 8, 1), depth, units, 10, standardize=True, name="relu_bn_mlp_digits"
    )


def train(model, data, epochs):
    model.get_layer("standardize").adapt(data[0][0])
    return _digits.train(model, data, epochs, learning_rate=1e-3)


def main(argv=None):
    args, out = _digits.parse_args(
        __doc__,
        argv,
        name=NAME,
        epochs=60,
        quick_help="a 4-layer model for 1 epoch on 256 examples",
    )
    depth, epochs = (4, 1) if args.quick else (16, args.epochs)
    results, snn_model = _digits.train_pair(
        {"snn": lambda: build_snn(depth=depth), "baseline": lambda: build_baseline(depth=depth)},
        _digits.load_data(args.quick),
        epochs,
        args.seed,
        train,
    )
    _digits.save(
        snn_model,
        out,
        name=NAME,
        extra={
            "depth": depth,
            "units": 64,
            **_digits.run_record(results["snn"], epochs, args.seed),
        },
        baseline=_digits.baseline_record(
            "the same depth and width with relu, he_normal and BatchNormalization",
            results["baseline"],
            epochs,
            args.seed,
        ),
    )
    return results


if __name__ == "__main__":
    main()
