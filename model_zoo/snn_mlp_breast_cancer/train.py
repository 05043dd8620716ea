"""Recipe: a 16-layer self-normalizing MLP on scikit-learn's breast cancer table
(preset snn_mlp_breast_cancer).

The model is `keras_gradstab.models.snn`: 16 hidden `Dense(64)` layers with selu
and lecun_normal, `AlphaDropout(0.05)` after each, and a `Dense(2)` head (logits),
on the 30 features standardized with the training split's statistics
(`keras_gradstab.datasets.breast_cancer`). Two baselines of the same depth and
width, trained with the same optimizer, schedule, batch size, epochs and seed:
relu + he_normal + `BatchNormalization` after each hidden layer, and relu +
he_normal with no normalization. Every model is trained with `--seeds` seeds
(from `--seed` on); the first seed's SNN is the preset, and all runs are recorded
in its metadata (`extra["seed_runs"]`).

    KERAS_BACKEND=jax python -m model_zoo.snn_mlp_breast_cancer.train      # full
    KERAS_BACKEND=jax python -m model_zoo.snn_mlp_breast_cancer.train --quick --out /tmp/x

The full run writes the preset to `keras_gradstab/zoo/presets/snn_mlp_breast_cancer`
(or `--out DIR`) and prints the test accuracies, and their mean and standard
deviation over the seeds.
"""

import numpy as np

from keras_gradstab.models import snn
from model_zoo import _digits

NAME = "snn_mlp_breast_cancer"
DATA = {"dataset": "breast_cancer", "kwargs": {"seed": 0}}
FEATURES, CLASSES = 30, 2
TASK = "breast cancer diagnosis (scikit-learn Wisconsin table, 30 features, 2 classes)"


def build_snn(depth=16, units=64, dropout_rate=0.05):
    return snn(
        (FEATURES,),
        units=units,
        depth=depth,
        output_units=CLASSES,
        dropout_rate=dropout_rate,
        name=NAME,
    )


def build_relu(depth=16, units=64):
    """The same depth and width, relu + he_normal, no normalization, no dropout."""
    return snn(
        (FEATURES,),
        units=units,
        depth=depth,
        output_units=CLASSES,
        dropout_rate=0,
        activation="relu",
        kernel_initializer="he_normal",
        name="relu_mlp",
    )


def build_relu_bn(depth=16, units=64):
    """The same depth and width, relu + he_normal + BatchNormalization, no SNN parts."""
    return _digits.relu_bn_mlp((FEATURES,), depth, units, CLASSES, name="relu_bn_mlp")


def train(model, data, epochs):
    return _digits.train(model, data, epochs, learning_rate=1e-3)


def summary(runs, kind):
    """Mean and standard deviation (ddof=1 for two runs or more) of a kind's accuracies."""
    values = np.array([run[kind]["test_accuracy"] for run in runs])
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
    }


def main(argv=None):
    args, out = _digits.parse_args(
        __doc__,
        argv,
        name=NAME,
        epochs=100,
        seeds=5,
        quick_help="4-layer models for 1 epoch on 256 examples, 2 seeds",
    )
    depth, epochs, seeds = (4, 1, 2) if args.quick else (16, args.epochs, args.seeds)
    builders = {
        "snn": lambda: build_snn(depth=depth),
        "relu_bn": lambda: build_relu_bn(depth=depth),
        "relu": lambda: build_relu(depth=depth),
    }
    data = _digits.load_data(args.quick, data=DATA)
    runs, preset_model = [], None
    for seed in range(args.seed, args.seed + seeds):
        results, model = _digits.train_pair(builders, data, epochs, seed, train)
        runs.append({"seed": seed, **results})
        preset_model = model if preset_model is None else preset_model
    stats = {kind: summary(runs, kind) for kind in builders}
    for kind, s in stats.items():
        print(
            f"{kind:10s} test accuracy over {seeds} seeds: "
            f"{100 * s['mean']:.2f}% +- {100 * s['std']:.2f}%",
            flush=True,
        )
    first = runs[0]
    _digits.save(
        preset_model,
        out,
        name=NAME,
        task=TASK,
        data=DATA,
        extra={
            "depth": depth,
            "units": 64,
            **_digits.run_record(first["snn"], epochs, args.seed),
            "seed_runs": runs,
            "seed_summary": stats,
        },
        baseline=_digits.baseline_record(
            "the same depth and width with relu, he_normal and BatchNormalization",
            first["relu_bn"],
            epochs,
            args.seed,
        ),
        more_baselines=[
            _digits.baseline_record(
                "the same depth and width with relu and he_normal, no normalization",
                first["relu"],
                epochs,
                args.seed,
            )
        ],
    )
    return runs


if __name__ == "__main__":
    main()
