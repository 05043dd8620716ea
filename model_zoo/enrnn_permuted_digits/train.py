"""ENRNN on permuted pixel-by-pixel scikit-learn digits (64 steps of one pixel, one
fixed random permutation of the pixel order).

Trains `ENRNN(n1, n2)` and a `keras.layers.GRU(n1 + n2)` the same way (same data,
optimizer, batch, epochs) and writes the ENRNN preset with the GRU's result beside
it in its metadata. Usage:

    KERAS_BACKEND=jax python model_zoo/enrnn_permuted_digits/train.py       # the preset
    KERAS_BACKEND=jax python model_zoo/enrnn_permuted_digits/train.py --quick --out /tmp/q
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import keras  # noqa: E402

from keras_gradstab import datasets  # noqa: E402
from keras_gradstab.layers import ENRNN, skew_learning_rate_optimizer  # noqa: E402
from model_zoo._recurrent import finish, recipe_parser, run_pair, validation_split  # noqa: E402

NAME = "enrnn_permuted_digits"


def build(kind, n1, n2, seed=0):
    recurrent = (
        ENRNN(n1, n2, seed=seed) if kind == "preset" else keras.layers.GRU(n1 + n2, seed=seed)
    )
    return keras.Sequential(
        [
            keras.Input((64, 1)),
            recurrent,
            keras.layers.Dense(10, activation="softmax"),
        ],
        name=NAME if kind == "preset" else "gru_permuted_digits",
    )


def main(argv=None):
    parser = recipe_parser(
        __doc__, epochs=30, batch_size=64, lr=1e-3, skew_lr=1e-4, quick_help="6 + 2 units, 1 epoch"
    )
    parser.add_argument("--orthogonal-units", type=int, default=96)
    parser.add_argument("--normalized-units", type=int, default=32)
    args = parser.parse_args(argv)
    if args.quick:
        args.orthogonal_units, args.normalized_units, args.epochs = 6, 2, 1
    data = {"dataset": "digits", "kwargs": {"sequential": True, "permuted": True, "seed": 0}}
    (x, y), test = datasets.digits(**data["kwargs"])
    train_data, validation = validation_split(x, y, len(x) // 10)
    settings = {
        k: getattr(args, k)
        for k in (
            "orthogonal_units",
            "normalized_units",
            "epochs",
            "batch_size",
            "lr",
            "skew_lr",
            "clipnorm",
        )
    }
    settings["optimizer"] = "RMSprop (skew parameter at skew_lr), clipnorm"

    def optimizer(kind):
        base = keras.optimizers.RMSprop(args.lr, clipnorm=args.clipnorm)
        return skew_learning_rate_optimizer(base, args.skew_lr) if kind == "preset" else base

    n1, n2 = args.orthogonal_units, args.normalized_units
    model, baseline, settings = run_pair(
        lambda kind: build(kind, n1, n2),
        optimizer,
        train_data,
        validation,
        test,
        metric="accuracy",
        epochs=args.epochs,
        batch_size=args.batch_size,
        target=None,
        baseline_name=f"keras.layers.GRU({n1 + n2})",
        skip_baseline=args.skip_baseline,
        settings=settings,
    )
    return finish(
        model,
        name=NAME,
        out=args.out,
        quick=args.quick,
        metric="accuracy",
        data=data,
        task="permuted pixel-by-pixel digits (64 steps, 10 classes)",
        test=test,
        baseline=baseline,
        settings=settings,
        preset_dir=args.preset_dir,
    )


if __name__ == "__main__":
    main()
