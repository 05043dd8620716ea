"""ENRNN on permuted pixel-by-pixel scikit-learn digits (64 steps of one pixel, one
fixed random permutation of the pixel order).

Trains `ENRNN(n1, n2)` and a `keras.layers.GRU(n1 + n2)` the same way (same data,
optimizer, batch, epochs) and writes the ENRNN preset with the GRU's result beside
it in its metadata. Usage: see
`README.md`.
"""

import keras

from keras_gradstab import datasets
from keras_gradstab.layers import ENRNN, skew_learning_rate_optimizer
from model_zoo import _recurrent

NAME = "enrnn_permuted_digits"


def build(kind, n1, n2, seed=0):
    recurrent = (
        ENRNN(n1, n2, seed=seed) if kind == "preset" else keras.layers.GRU(n1 + n2, seed=seed)
    )
    return _recurrent.digits_classifier(
        recurrent, NAME if kind == "preset" else "gru_permuted_digits"
    )


def main(argv=None):
    parser = _recurrent.recipe_parser(
        __doc__, "6 + 2 units, 1 epoch", epochs=30, batch_size=64, lr=1e-3, skew_lr=1e-4
    )
    parser.add_argument("--orthogonal-units", type=int, default=96)
    parser.add_argument("--normalized-units", type=int, default=32)
    args = parser.parse_args(argv)
    if args.quick:
        args.orthogonal_units, args.normalized_units, args.epochs = 6, 2, 1
    data = {"dataset": "digits", "kwargs": {"sequential": True, "permuted": True, "seed": 0}}
    (x, y), test = datasets.digits(**data["kwargs"])
    train_data, validation = _recurrent.validation_split(x, y, len(x) // 10)
    settings = _recurrent.training_settings(
        args,
        "orthogonal_units",
        "normalized_units",
        optimizer="RMSprop (skew parameter at skew_lr), clipnorm",
    )

    def optimizer(kind):
        base = keras.optimizers.RMSprop(args.lr, clipnorm=args.clipnorm)
        return skew_learning_rate_optimizer(base, args.skew_lr) if kind == "preset" else base

    n1, n2 = args.orthogonal_units, args.normalized_units
    model, baseline, settings = _recurrent.run_pair(
        lambda kind: build(kind, n1, n2),
        optimizer,
        (train_data, validation, test),
        args,
        baseline_name=f"keras.layers.GRU({n1 + n2})",
        settings=settings,
    )
    return _recurrent.finish(
        model,
        args,
        name=NAME,
        metric="accuracy",
        data=data,
        task="permuted pixel-by-pixel digits (64 steps, 10 classes)",
        test=test,
        baseline=baseline,
        settings=settings,
    )


if __name__ == "__main__":
    main()
