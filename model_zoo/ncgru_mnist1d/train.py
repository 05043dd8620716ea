"""NC-GRU on MNIST-1D (40-step sequences of one feature, 10 classes).

Trains `NCGRU` and a `keras.layers.GRU` of the same size the same way (same data,
optimizer, batch, epochs) and writes the NC-GRU preset with the GRU's result
beside it in its metadata. Usage:

    KERAS_BACKEND=jax python model_zoo/ncgru_mnist1d/train.py           # the preset
    KERAS_BACKEND=jax python model_zoo/ncgru_mnist1d/train.py --quick --out /tmp/q
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import keras  # noqa: E402

from keras_gradstab import datasets  # noqa: E402
from keras_gradstab.layers import NCGRU, skew_learning_rate_optimizer  # noqa: E402
from model_zoo._recurrent import finish, recipe_parser, run_pair, validation_split  # noqa: E402

NAME = "ncgru_mnist1d"


def build(kind, units, seed=0):
    recurrent = NCGRU(units, seed=seed) if kind == "preset" else keras.layers.GRU(units, seed=seed)
    return keras.Sequential([
        keras.Input((40, 1)), recurrent, keras.layers.Dense(10, activation="softmax"),
    ], name=NAME if kind == "preset" else "gru_mnist1d")


def main(argv=None):
    parser = recipe_parser(__doc__, epochs=60, batch_size=64, lr=2e-3, skew_lr=2e-4,
                           quick_help="8 units, 1 epoch, 200 samples")
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--num-samples", type=int, default=5000)
    args = parser.parse_args(argv)
    if args.quick:
        args.units, args.epochs, args.num_samples = 8, 1, 200
    data = {"dataset": "mnist1d", "kwargs": {"num_samples": args.num_samples, "seed": 42}}
    (x, y), test = datasets.mnist1d(**data["kwargs"])
    train_data, validation = validation_split(x, y, len(x) // 10)
    settings = {k: getattr(args, k) for k in (
        "units", "epochs", "batch_size", "lr", "skew_lr", "clipnorm")}
    settings["optimizer"] = "Adam (skew parameters at skew_lr), clipnorm, cosine decay"
    steps = args.epochs * -(-len(train_data[0]) // args.batch_size)

    def optimizer(kind):
        schedule = keras.optimizers.schedules.CosineDecay(args.lr, steps)
        base = keras.optimizers.Adam(schedule, clipnorm=args.clipnorm)
        if kind != "preset":
            return base
        skew = keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(args.skew_lr, steps), clipnorm=args.clipnorm)
        return skew_learning_rate_optimizer(base, skew_optimizer=skew)

    model, baseline, settings = run_pair(
        lambda kind: build(kind, args.units), optimizer, train_data, validation, test,
        metric="accuracy", epochs=args.epochs, batch_size=args.batch_size, target=None,
        baseline_name=f"keras.layers.GRU({args.units})", skip_baseline=args.skip_baseline,
        settings=settings)
    return finish(model, name=NAME, out=args.out, quick=args.quick, metric="accuracy",
                  data=data, task="MNIST-1D classification (40 steps, 10 classes)",
                  test=test, baseline=baseline, settings=settings,
                  preset_dir=args.preset_dir)


if __name__ == "__main__":
    main()
