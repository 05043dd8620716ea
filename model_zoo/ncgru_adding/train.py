"""NC-GRU on the adding problem (T = 750): add the two marked numbers of 750.

Trains `NCGRU` (gate biases started so that the cell starts as scoRNN, as in
`ncgru_copying`), then a `keras.layers.GRU` and a `keras.layers.LSTM` of about the
same parameter count the same way (same data, optimizer, batch, seed and number of
steps), and writes the NC-GRU preset with both results in its metadata. Usage: see
`README.md`.
"""

import keras

from keras_gradstab import datasets
from keras_gradstab.layers import NCGRU
from model_zoo import _recurrent

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
    parser = _recurrent.recipe_parser(
        __doc__,
        "T=20, 8 units, 1 epoch",
        epochs=8,
        batch_size=50,
        lr=1e-3,
        skew_lr=1e-4,
        units=64,
        baselines={"gru": 64, "lstm": 55},
    )
    parser.add_argument("--time-steps", type=int, default=750)
    parser.add_argument("--num-train", type=int, default=10500)
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
    train_data, validation = _recurrent.validation_split(x, y, 500 if not args.quick else 64)
    fit = {"metric": "mse", "epochs": args.epochs, "batch_size": args.batch_size, "loss": "mse"}
    settings = _recurrent.training_settings(
        args,
        "time_steps",
        "num_train",
        optimizer="RMSprop, clipnorm (the NC-GRU's skew parameter at skew_lr)",
    )
    steps = args.epochs * (len(train_data[0]) // args.batch_size)
    trained = (
        f"the same way: {len(train_data[0])} training sequences, batch {args.batch_size}, "
        f"{args.epochs} epochs ({steps} steps), RMSprop {args.lr} clipnorm "
        f"{args.clipnorm}, seed 0"
    )

    settings["steps"] = steps
    model, records = _recurrent.train_with_baselines(
        lambda kind, units: build(kind, units, args.time_steps),
        lambda kind: _recurrent.rmsprop(kind, args.lr, args.skew_lr, args.clipnorm),
        (train_data, validation, test),
        args,
        settings=settings,
        trained=trained,
        **fit,
    )
    return _recurrent.finish(
        model,
        args,
        name=NAME,
        metric="mse",
        data=data,
        task=f"adding problem, T={args.time_steps}",
        test=test,
        baseline=records[0] if records else None,
        more_baselines=records[1:],
        settings=settings,
        loss="mse",
        metrics=(),
    )


if __name__ == "__main__":
    main()
