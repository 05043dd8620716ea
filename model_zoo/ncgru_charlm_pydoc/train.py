"""NC-GRU character-level language model on Python's own help text (`pydoc_data.topics`).

Trains `NCGRU(128)` to predict the next character of windows of 100 characters of
`keras_gradstab.datasets.pydoc_text`, then a `keras.layers.GRU` and a
`keras.layers.LSTM` of about the same parameter count the same way (same windows,
optimizer, schedule, batch, seed and number of steps), and writes the NC-GRU preset
with both results (bits per character on the held-out last 5% of the text) in its
metadata. Usage: see
`README.md`.
"""

import keras

from keras_gradstab import datasets
from keras_gradstab.layers import NCGRU, skew_learning_rate_optimizer
from model_zoo import _recurrent

NAME = "ncgru_charlm_pydoc"
METRIC = "bits_per_character"
EMBEDDING = 32


def build(kind, units, length, vocabulary_size, seed=0):
    """Character embedding, a recurrent layer over every step, softmax over the characters."""
    if kind == "preset":
        recurrent = NCGRU(units, return_sequences=True, seed=seed)
    elif kind == "gru":
        recurrent = keras.layers.GRU(units, return_sequences=True, seed=seed)
    else:
        recurrent = keras.layers.LSTM(units, return_sequences=True, seed=seed)
    return keras.Sequential(
        [
            keras.Input((length,), dtype="int32"),
            keras.layers.Embedding(vocabulary_size, EMBEDDING),
            recurrent,
            keras.layers.Dense(vocabulary_size, activation="softmax"),
        ],
        name=NAME if kind == "preset" else f"{kind}_charlm_pydoc",
    )


def main(argv=None):
    parser = _recurrent.recipe_parser(
        __doc__,
        "8 units, windows of 20, 1 epoch on 64 windows",
        epochs=10,
        batch_size=32,
        lr=2e-3,
        skew_lr=2e-4,
        units=128,
        baselines={"gru": 128, "lstm": 111},
    )
    parser.add_argument("--sequence-length", type=int, default=100)
    parser.add_argument(
        "--seed", type=int, default=0, help="initialization and shuffling seed (the preset: 0)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sequence_length, args.units, args.gru_units, args.lstm_units = 20, 8, 8, 7
        args.epochs = 1
    data = {"dataset": "pydoc_text", "kwargs": {"sequence_length": args.sequence_length}}
    train_data, validation, test = datasets.pydoc_text(**data["kwargs"])
    if args.quick:
        train_data, validation = (
            (train_data[0][:64], train_data[1][:64]),
            (validation[0][:32], validation[1][:32]),
        )
    vocabulary_size = len(datasets.pydoc_text_vocabulary())
    settings = _recurrent.training_settings(
        args,
        "sequence_length",
        "seed",
        optimizer="Adam, clipnorm, cosine decay to 0 (the NC-GRU's skew parameter at skew_lr)",
    )
    steps = args.epochs * -(-len(train_data[0]) // args.batch_size)
    trained = (
        f"the same way: {len(train_data[0])} training windows of {args.sequence_length} "
        f"characters, batch {args.batch_size}, {args.epochs} epochs ({steps} steps), Adam "
        f"{args.lr} with cosine decay to 0 and clipnorm {args.clipnorm}, seed {args.seed}"
    )

    def optimizer(kind):
        schedule = keras.optimizers.schedules.CosineDecay(args.lr, steps)
        base = keras.optimizers.Adam(schedule, clipnorm=args.clipnorm)
        if kind != "preset":
            return base
        skew = keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(args.skew_lr, steps), clipnorm=args.clipnorm
        )
        return skew_learning_rate_optimizer(base, skew_optimizer=skew)

    fit = {
        "metric": METRIC,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    settings["steps"] = steps
    model, records = _recurrent.train_with_baselines(
        lambda kind, units: build(
            kind, units, args.sequence_length, vocabulary_size, seed=args.seed
        ),
        optimizer,
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
        metric=METRIC,
        data=data,
        task=f"next character of Python's help text (pydoc_data.topics), windows of "
        f"{args.sequence_length}",
        test=test,
        baseline=records[0] if records else None,
        more_baselines=records[1:],
        settings=settings,
    )


if __name__ == "__main__":
    main()
