"""NC-GRU on the copying task (T = 200): recall 10 symbols after 200 blank steps.

Trains `NCGRU` (gate biases started so that the cell starts as scoRNN:
`update_gate_bias=-8, reset_gate_bias=8`, see `NCGRUCell`) and a `keras.layers.GRU`
of the same size the same way (same data, optimizer, batch, and the number of
epochs the NC-GRU took), and writes the NC-GRU preset with the GRU's result beside
it in its metadata. Usage: see
`README.md`.
"""

import keras
import numpy as np

from keras_gradstab import datasets
from keras_gradstab.layers import NCGRU
from model_zoo import _recurrent

NAME = "ncgru_copying"
NUM_SYMBOLS = 8


GATE_BIASES = {"scornn": (-8.0, 8.0), "zeros": (None, None)}


def build(kind, units, length, seed=0, gate_init="scornn"):
    """Embedding of the 10 tokens, a recurrent layer over every step, softmax per step.

    `gate_init="scornn"` starts the NC-GRU's update gate shut (bias -8) and its reset
    gate open (bias 8): the cell then starts as scoRNN, whose orthogonal Jacobian
    carries the gradient over the 200 steps. The GRU keeps Keras's initialization
    (with the same biases it would start as a plain tanh RNN, which cannot learn
    this); `"chrono"` gives both the same chrono update-gate bias.
    """
    update, reset = GATE_BIASES.get(gate_init, (None, None))
    recurrent = (
        NCGRU(
            units, return_sequences=True, seed=seed, update_gate_bias=update, reset_gate_bias=reset
        )
        if kind == "preset"
        else keras.layers.GRU(units, return_sequences=True, seed=seed)
    )
    return keras.Sequential(
        [
            keras.Input((length,), dtype="int32"),
            keras.layers.Embedding(NUM_SYMBOLS + 2, 16),
            recurrent,
            keras.layers.Dense(NUM_SYMBOLS + 1, activation="softmax"),
        ],
        name=NAME if kind == "preset" else "gru_copying",
    )


def chrono_update_bias(model, time_steps, seed=0):
    """Chrono initialization (Tallec & Ollivier, 2018) of the update gate's bias, the same
    for NCGRU and keras.layers.GRU (both compute h' = u h + (1 - u) c): b = log(U(1, T - 1)),
    so the units start with memory time scales 1 / (1 - u) = 1 + e^b spread over [2, T]."""
    layer = model.layers[1]
    units = layer.cell.units
    bias = keras.ops.convert_to_numpy(layer.cell.bias).copy()
    values = np.log(np.random.default_rng(seed).uniform(1.0, time_steps - 1.0, units))
    if bias.ndim == 2:  # keras.layers.GRU(reset_after=True): [input bias; recurrent bias]
        bias[0, :units], bias[1, :units] = values, 0.0
    else:  # NCGRU: [update, reset]
        bias[:units] = values
    layer.cell.bias.assign(bias)
    return model


def main(argv=None):
    parser = _recurrent.recipe_parser(
        __doc__, "T=20, 8 units, 1 epoch", epochs=15, batch_size=32, lr=1e-3, skew_lr=1e-4, units=64
    )
    parser.add_argument("--time-steps", type=int, default=200)
    parser.add_argument("--num-train", type=int, default=20000)
    parser.add_argument(
        "--target",
        type=float,
        default=0.995,
        help="stop once the validation symbol accuracy reaches this",
    )
    parser.add_argument(
        "--gate-init",
        default="scornn",
        choices=["scornn", "chrono", "zeros"],
        help="initial gate biases (see build)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.time_steps, args.units, args.num_train, args.epochs = 20, 8, 256, 1
    data = {
        "dataset": "copying",
        "kwargs": {
            "time_steps": args.time_steps,
            "num_train": args.num_train,
            "num_test": 1000,
            "num_symbols": NUM_SYMBOLS,
            "copy_length": 10,
            "seed": 0,
        },
    }
    (x, y), test = datasets.copying(**data["kwargs"])
    train_data, validation = _recurrent.validation_split(x, y, 500 if not args.quick else 64)
    length = x.shape[1]
    settings = _recurrent.training_settings(
        args,
        "time_steps",
        "target",
        "gate_init",
        optimizer="RMSprop (skew parameters at skew_lr), clipnorm",
    )

    def make(kind):
        model = build(kind, args.units, length, gate_init=args.gate_init)
        return chrono_update_bias(model, args.time_steps) if args.gate_init == "chrono" else model

    model, baseline, settings = _recurrent.run_pair(
        make,
        lambda kind: _recurrent.rmsprop(kind, args.lr, args.skew_lr, args.clipnorm),
        (train_data, validation, test),
        args,
        baseline_name=f"keras.layers.GRU({args.units})",
        settings=settings,
        metric="symbol_accuracy",
        target=args.target,
        # The same budget: as many epochs as the NC-GRU took to reach the target.
        baseline_epochs=lambda epochs_run: epochs_run,
    )
    return _recurrent.finish(
        model,
        args,
        name=NAME,
        metric="symbol_accuracy",
        data=data,
        task=f"copying task, T={args.time_steps}, 10 symbols of 8",
        test=test,
        baseline=baseline,
        settings=settings,
    )


if __name__ == "__main__":
    main()
