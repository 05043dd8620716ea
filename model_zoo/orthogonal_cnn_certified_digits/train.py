"""Recipe: a 1-Lipschitz CNN on scikit-learn's digits with certified robust accuracy
(preset orthogonal_cnn_certified_digits).

Three `keras_gradstab.layers.OrthogonalConv2D` layers with circular padding
(16 filters; 32 at stride 2; 64 at stride 2), each followed by the
norm-preserving `max_min` activation, then `Flatten` and an
`OrthogonalDense(10)` head (orthonormal columns). Every layer has spectral norm
1, so the network is 1-Lipschitz in the L2 norm: a test point whose logit
margin (top logit minus the runner-up) exceeds sqrt(2) * L * eps keeps its
class under every perturbation of L2 norm <= eps (Tsuzuku, Sato & Sugiyama,
NeurIPS 2018), with L = 1 here.

The baseline is the same network with `keras.layers.Conv2D` (kernel 3, "same"
zero padding, same filters and strides) and `keras.layers.Dense(10)`, trained
the same way (data, loss, optimizer, schedule, batch, epochs, seed). Its bound
L is the product of its layers' exact spectral norms (largest singular value
of each layer's dense matrix, built from impulse responses).

    KERAS_BACKEND=jax python -m model_zoo.orthogonal_cnn_certified_digits.train
    KERAS_BACKEND=jax python -m model_zoo.orthogonal_cnn_certified_digits.train --quick --out /tmp/x

The full run writes the preset to `keras_gradstab/zoo/presets/orthogonal_cnn_certified_digits`
(or `--out DIR`): its metric is the plain test accuracy (what `zoo.evaluate`
re-measures); the certified accuracies of both models and their Lipschitz
bounds are in the metadata's `certified` field.
"""

import json

import keras
import numpy as np

from keras_gradstab import activations, layers, ops, zoo
from model_zoo import _digits
from model_zoo._digits import COMPILE, DATA

NAME = "orthogonal_cnn_certified_digits"
# (filters, strides) of the three convolutions.
BLOCKS = ((16, 1), (32, 2), (64, 2))
# The L2 radius the preset states (pixels in [0, 1]; a test image has norm ~3.9).
EPSILON = 0.3
EPSILONS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


def build(kind, blocks=BLOCKS):
    """`kind` "orthogonal" (the preset) or "plain" (Conv2D/Dense, the baseline)."""
    x = inputs = keras.Input((8, 8, 1))
    for i, (filters, strides) in enumerate(blocks):
        if kind == "orthogonal":
            x = layers.OrthogonalConv2D(
                filters, 3, strides=strides, padding="circular", name=f"conv_{i}"
            )(x)
        else:
            x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", name=f"conv_{i}")(
                x
            )
        x = keras.layers.Activation(activations.max_min, name=f"max_min_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if kind == "orthogonal":
        outputs = layers.OrthogonalDense(10, name="output")(x)
    else:
        outputs = keras.layers.Dense(10, name="output")(x)
    return keras.Model(inputs, outputs, name=NAME if kind == "orthogonal" else "plain_cnn")


def _impulse_norm(layer):
    """Largest singular value of `layer`'s linear part: its dense matrix from impulses."""
    shape = tuple(layer.input.shape[1:])
    size = int(np.prod(shape))
    basis = np.eye(size, dtype="float32").reshape((size,) + shape)
    zero = np.zeros((1,) + shape, "float32")
    matrix = (
        keras.ops.convert_to_numpy(layer(basis)) - keras.ops.convert_to_numpy(layer(zero))
    ).reshape(size, -1)
    return float(np.linalg.svd(matrix.astype("float64"), compute_uv=False)[0])


def layer_norms(model):
    """Spectral norms of the model's linear layers, in order (activations are 1-Lipschitz).

    Orthogonal convolutions: the exact circular singular values
    (`ops.conv_singular_values` of the stride-1 kernel after space-to-depth, a
    permutation); dense kernels: their largest singular value; plain
    convolutions: from their dense matrix.
    """
    norms = []
    for layer in model.layers:
        if isinstance(layer, layers.OrthogonalConv2D):
            grid = tuple(n // s for n, s in zip(layer.input.shape[1:3], layer.strides))
            sigma = ops.conv_singular_values(layer.orthogonal_kernel(), grid)
            norms.append(float(np.max(keras.ops.convert_to_numpy(sigma))))
        elif isinstance(layer, (layers.OrthogonalDense, keras.layers.Dense)):
            kernel = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
            norms.append(float(np.linalg.svd(kernel, compute_uv=False)[0]))
        elif isinstance(layer, keras.layers.Conv2D):
            norms.append(_impulse_norm(layer))
    return norms


def certified_accuracy(logits, labels, epsilon, lipschitz):
    """Share of points classified correctly with margin > sqrt(2) * lipschitz * epsilon."""
    logits = np.asarray(logits, "float64")
    labels = np.asarray(labels)
    rows = np.arange(len(labels))
    true = logits[rows, labels]
    others = logits.copy()
    others[rows, labels] = -np.inf
    margin = true - others.max(axis=1)
    return float(np.mean(margin > np.sqrt(2.0) * lipschitz * epsilon))


def certify(model, x, y, epsilons=EPSILONS):
    """The model's Lipschitz bound and certified accuracy at each epsilon."""
    norms = layer_norms(model)
    bound = float(np.prod(norms))
    logits = model.predict(x, batch_size=len(x), verbose=0)
    return {
        "lipschitz_bound": bound,
        "layer_norms": norms,
        "certified_accuracy": {str(e): certified_accuracy(logits, y, e, bound) for e in epsilons},
    }


def train(model, data, epochs):
    return _digits.train(model, data, epochs, learning_rate=3e-3)


def main(argv=None):
    parser = _digits.parser(
        __doc__.splitlines()[0], "two small convolutions for 1 epoch on 256 examples", 40
    )
    parser.add_argument(
        "--no-preset",
        action="store_true",
        help="train and print both models; write nothing (other seeds)",
    )
    args, out = _digits.parse(parser, argv, NAME)
    data = _digits.load_data(args.quick)
    blocks, epochs = (((8, 1), (8, 2)), 1) if args.quick else (BLOCKS, args.epochs)
    x_test, y_test = data[1]

    results, models = {}, {}
    for kind in ("orthogonal", "plain"):
        keras.utils.set_random_seed(args.seed)
        model = build(kind, blocks)
        accuracy, seconds = train(model, data, epochs)
        models[kind] = model
        results[kind] = {
            "accuracy": zoo.presets.measure(model, "accuracy", x_test, y_test),
            "train_seconds": round(seconds, 1),
            **certify(model, x_test, y_test),
        }
        print(
            f"{keras.config.backend():10s} {kind:10s} test accuracy "
            f"{results[kind]['accuracy']:.4f}, L {results[kind]['lipschitz_bound']:.3g}, "
            f"certified {results[kind]['certified_accuracy']} ({seconds:.1f} s, "
            f"{epochs} epochs)",
            flush=True,
        )
    if args.no_preset:
        return results
    trained = (
        f"same data, loss, Adam with cosine decay from 3e-3, batch 64, {epochs} epochs, "
        f"seed {args.seed}"
    )
    plain = results["plain"]
    metadata = zoo.save_preset(
        # An uncompiled copy: a compiled model's config carries jit_compile
        # resolved for the training backend (see `zoo.from_preset`).
        _copy(models["orthogonal"], blocks),
        out,
        name=NAME,
        task="digit classification (scikit-learn digits, 8x8), 1-Lipschitz, L2-certified",
        metric="accuracy",
        data=DATA,
        recipe=f"model_zoo/{NAME}/train.py",
        compile=COMPILE,
        extra={
            "blocks": [list(b) for b in blocks],
            **_digits.run_record(results["orthogonal"], epochs, args.seed),
            "certified": {
                "epsilon": EPSILON,
                "norm": "L2",
                "rule": "correct and logit margin > sqrt(2) * lipschitz_bound * epsilon",
                "lipschitz_bound": results["orthogonal"]["lipschitz_bound"],
                "layer_norms": results["orthogonal"]["layer_norms"],
                "certified_accuracy": results["orthogonal"]["certified_accuracy"],
                "baseline": {
                    k: plain[k] for k in ("lipschitz_bound", "layer_norms", "certified_accuracy")
                },
            },
        },
        baseline={
            "model": "the same CNN with keras.layers.Conv2D ('same') and keras.layers.Dense",
            "metric": "accuracy",
            "value": plain["accuracy"],
            "trained": trained,
            "train_seconds": plain["train_seconds"],
        },
    )
    print(json.dumps({k: metadata[k] for k in ("name", "metric", "value", "backend")}))
    return results


def _copy(model, blocks):
    copy = build("orthogonal", blocks)
    copy.set_weights(model.get_weights())
    return copy


if __name__ == "__main__":
    main()
