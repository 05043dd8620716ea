"""NC-GRU on the adding problem (T = 750): add the two marked numbers of 750.

Trains `NCGRU` (gate biases started so that the cell starts as scoRNN, as in
`ncgru_copying`), then a `keras.layers.GRU` and a `keras.layers.LSTM` of about the
same parameter count the same way (same data, optimizer, batch, seed and number of
steps), and writes the NC-GRU preset with both results in its metadata. Usage:

    KERAS_BACKEND=jax python model_zoo/ncgru_adding/train.py           # the preset
    KERAS_BACKEND=jax python model_zoo/ncgru_adding/train.py --quick --out /tmp/q
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import keras  # noqa: E402

from keras_gradstab import datasets  # noqa: E402
from keras_gradstab.layers import NCGRU  # noqa: E402
from model_zoo._recurrent import (  # noqa: E402
    finish,
    rmsprop,
    train,
    train_baseline,
    validation_split,
)

NAME = "ncgru_adding"


def build(kind, units, length, seed=0):
    """The recurrent layer over the 2 input features, a linear read-out of its last state.

    The NC-GRU starts with its update gate shut (bias -8) and its reset gate open
    (bias 8), i.e. as scoRNN (see `model_zoo/ncgru_copying`); the baselines keep
    Keras's initialization.
    """
    if kind == "preset":
        recurrent = NCGRU(units, seed=seed, update_gate_bias=-8.0, reset_gate_bias=8.0)
    elif kind == "gru":
        recurrent = keras.layers.GRU(units, seed=seed)
    else:
        recurrent = keras.layers.LSTM(units, seed=seed)
    return keras.Sequential(
        [keras.Input((length, 2)), recurrent, keras.layers.Dense(1)],
        name=NAME if kind == "preset" else f"{kind}_adding",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-steps", type=int, default=750)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--gru-units", type=int, default=64)
    parser.add_argument("--lstm-units", type=int, default=55)
    parser.add_argument("--num-train", type=int, default=10500)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--skew-lr", type=float, default=1e-4)
    parser.add_argument("--clipnorm", type=float, default=1.0)
    parser.add_argument(
        "--baselines",
        default="gru,lstm",
        help="comma-separated baselines to train: gru, lstm (or none)",
    )
    parser.add_argument("--quick", action="store_true", help="T=20, 8 units, 1 epoch")
    parser.add_argument("--out", default=None, help="write metrics (and a quick preset) here")
    parser.add_argument(
        "--preset-dir",
        default=None,
        help="where the full run writes the preset (default: the package)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.time_steps, args.units, args.gru_units, args.lstm_units = 20, 8, 8, 7
        args.num_train, args.epochs = 256, 1
    data = {
        "dataset": "adding",
        "kwargs": {
            "time_steps": args.time_steps,
            "num_train": args.num_train,
            "num_test": 1000,
            "seed": 0,
        },
    }
    (x, y), test = datasets.adding(**data["kwargs"])
    train_data, validation = validation_split(x, y, 500 if not args.quick else 64)
    fit = {"metric": "mse", "epochs": args.epochs, "batch_size": args.batch_size, "loss": "mse"}
    settings = {
        k: getattr(args, k)
        for k in (
            "time_steps",
            "units",
            "num_train",
            "epochs",
            "batch_size",
            "lr",
            "skew_lr",
            "clipnorm",
        )
    }
    settings["optimizer"] = "RMSprop, clipnorm (the NC-GRU's skew parameter at skew_lr)"
    steps = args.epochs * (len(train_data[0]) // args.batch_size)
    trained = (
        f"the same way: {len(train_data[0])} training sequences, batch {args.batch_size}, "
        f"{args.epochs} epochs ({steps} steps), RMSprop {args.lr} clipnorm "
        f"{args.clipnorm}, seed 0"
    )

    model = build("preset", args.units, args.time_steps)
    seconds, log = train(
        model,
        rmsprop("preset", args.lr, args.skew_lr, args.clipnorm),
        train_data,
        validation,
        **fit,
    )
    settings.update(
        seconds=round(seconds, 1), steps=steps, log=log, parameters=int(model.count_params())
    )
    records = []
    for kind in [k for k in args.baselines.split(",") if k in ("gru", "lstm")]:
        units = args.gru_units if kind == "gru" else args.lstm_units
        label = f"keras.layers.{kind.upper()}({units})"
        record, base_log = train_baseline(
            label,
            build(kind, units, args.time_steps),
            rmsprop(kind, args.lr, args.skew_lr, args.clipnorm),
            train_data,
            validation,
            test,
            trained=trained,
            **fit,
        )
        records.append(record)
        settings[f"{kind}_log"] = base_log
    return finish(
        model,
        name=NAME,
        out=args.out,
        quick=args.quick,
        metric="mse",
        data=data,
        task=f"adding problem, T={args.time_steps}",
        test=test,
        baseline=records[0] if records else None,
        more_baselines=records[1:],
        settings=settings,
        preset_dir=args.preset_dir,
        loss="mse",
        metrics=(),
    )


if __name__ == "__main__":
    main()
