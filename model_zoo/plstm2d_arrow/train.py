"""Recipe: a pLSTM vision classifier on arrow-pointing images, trained at one size
and tested at twice that size, beside a ViT of similar size trained the same way.

The pLSTM paper's extrapolation task (Pöppel et al. 2025), scaled down for a
2-core CPU: images of `--image-size` pixels (default 64, objects at 1/3 of the
paper's 192-pixel sizes) for training; the test set is drawn at twice that size
with the same object scale, so objects keep their size and distances double.
Both models cut the image into 8 x 8 patches and resample their learned position
embedding bilinearly to the larger grid.

    KERAS_BACKEND=jax python model_zoo/plstm2d_arrow/train.py            # full
    KERAS_BACKEND=jax python model_zoo/plstm2d_arrow/train.py --quick --out /tmp/x

The full run writes the preset `keras_gradstab/zoo/presets/plstm2d_arrow` (the
pLSTM model, its accuracy at twice the training size, the ViT's beside it) and
`model_zoo/plstm2d_arrow/results.json`; `--quick` writes everything under `--out`.
The recorded run did not reach the target (README.md: about 60% at the training
size, chance at twice it, for both models), so its preset is not shipped in the
package; `metadata.json` here keeps the preset metadata that run wrote.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the checkout's package

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from keras_gradstab import datasets, zoo  # noqa: E402
from keras_gradstab.layers import PLSTMVisionClassifier  # noqa: E402
from keras_gradstab.layers.plstm_vision import _bilinear_matrix  # noqa: E402

NAME = "plstm2d_arrow"
PRESET_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "keras_gradstab", "zoo",
                          "presets", NAME)
PATCH = 8
# At 64 px the paper's proportions draw a one-pixel arrow whose head cannot be
# told from its tail (the direction, hence the label, is not in the image);
# 2.5 x longer and wider arrows make it legible (circles and padding unchanged).
ARROW_SCALE = 2.5
COMPILE = {
    "loss": {"class_name": "SparseCategoricalCrossentropy",
             "config": {"from_logits": True}, "module": "keras.losses"},
    "metrics": ["accuracy"],
}


class SmallViT(keras.layers.Layer):
    """The baseline: patches, the same resampled position embedding, pre-norm
    transformer blocks, mean pooling, a dense head (not shipped, not registered)."""

    def __init__(self, num_classes, position_grid, patch_size, dim, num_heads, depth,
                 mlp_ratio, **kwargs):
        super().__init__(**kwargs)
        self.position_grid = position_grid
        self.dim = dim
        self.patch_embedding = keras.layers.Conv2D(dim, patch_size, strides=patch_size)
        self.blocks = []
        for _ in range(depth):
            self.blocks.append((
                keras.layers.LayerNormalization(),
                keras.layers.MultiHeadAttention(num_heads, dim // num_heads),
                keras.layers.LayerNormalization(),
                keras.layers.Dense(mlp_ratio * dim, activation="gelu"),
                keras.layers.Dense(dim),
            ))
        self.final_norm = keras.layers.LayerNormalization()
        self.head = keras.layers.Dense(num_classes)
        self.num_classes = num_classes

    def build(self, input_shape):
        rows, columns = self.position_grid
        self.position_embedding = self.add_weight(
            name="position_embedding", shape=(rows * columns, self.dim),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02))

    def call(self, images):
        x = self.patch_embedding(images)
        rows, columns = x.shape[1], x.shape[2]
        table = ops.reshape(self.position_embedding, tuple(self.position_grid) + (self.dim,))
        if (rows, columns) != tuple(self.position_grid):
            a = ops.convert_to_tensor(_bilinear_matrix(self.position_grid[0], rows), x.dtype)
            b = ops.convert_to_tensor(_bilinear_matrix(self.position_grid[1], columns), x.dtype)
            table = ops.einsum("cj,rjd->rcd", b, ops.einsum("ri,ijd->rjd", a, table))
        x = ops.reshape(x + table, (-1, rows * columns, self.dim))
        for norm_1, attention, norm_2, mlp_in, mlp_out in self.blocks:
            y = norm_1(x)
            x = x + attention(y, y)
            x = x + mlp_out(mlp_in(norm_2(x)))
        return self.head(ops.mean(self.final_norm(x), axis=1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)


def build(kind, image_size, dim, seed, quick=False):
    keras.utils.set_random_seed(seed)
    grid = (image_size // PATCH, image_size // PATCH)
    if kind == "plstm":
        # P then D, as in the paper; the recurrent form is the faster one on CPU.
        # (--quick: one block with a P and a D head, two orientations, which
        # compiles in a fraction of the time.)
        layer = PLSTMVisionClassifier(2, position_grid=grid, patch_size=PATCH, dim=dim,
                                      num_heads=2, block_modes=("PD",) if quick else ("P", "D"),
                                      mlp_ratio=2, num_orientations=2 if quick else 4,
                                      form="recurrent", name="plstm_classifier")
    else:
        layer = SmallViT(2, grid, PATCH, dim, num_heads=2, depth=1 if quick else 3,
                         mlp_ratio=2, name="vit_classifier")
    inputs = keras.Input((None, None, 1))
    return keras.Model(inputs, layer(inputs), name=f"{kind}_arrow")


def data(image_size, num_train, num_test, seed=0, arrow_scale=ARROW_SCALE):
    """Training images at `image_size`; test images at `image_size` and twice it,
    objects at the training size's scale."""
    scale = image_size / 192.0
    train, test = datasets.arrow_pointing(image_size, num_train=num_train, num_test=num_test,
                                          object_scale=scale, seed=seed,
                                          arrow_scale=arrow_scale)
    large = {"image_size": 2 * image_size, "num_train": 0, "num_test": num_test,
             "object_scale": scale, "seed": seed + 1, "arrow_scale": arrow_scale}
    _, test_large = datasets.arrow_pointing(**large)
    return train, test, test_large, large


def train(kind, args, splits, log):
    (x, y), (x_test, y_test), (x_large, y_large), _ = splits
    model = build(kind, args.image_size, args.dim, args.seed, args.quick)
    steps = args.epochs * (len(x) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, steps, warmup_target=args.learning_rate, warmup_steps=max(1, steps // 20))
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start = time.perf_counter()
    for epoch in range(args.epochs):
        history = model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0,
                            shuffle=True)
        log(f"{kind} epoch {epoch + 1}/{args.epochs}: loss "
            f"{history.history['loss'][-1]:.4f} accuracy {history.history['accuracy'][-1]:.4f}"
            f" ({time.perf_counter() - start:.0f} s)")
    seconds = time.perf_counter() - start

    def accuracy(images, labels):
        # A model per image size around the trained layer (TensorFlow would
        # otherwise retrace the predict function with unknown height and width).
        sized = keras.Sequential([keras.Input(images.shape[1:]), model.layers[-1]])
        return float(np.mean(sized.predict(images, batch_size=100, verbose=0).argmax(-1)
                             == labels))

    result = {"parameters": int(model.count_params()), "train_seconds": round(seconds, 1),
              "accuracy_train_size": accuracy(x_test, y_test),
              "accuracy_twice_size": accuracy(x_large, y_large)}
    log(f"{kind}: {result}")
    return model, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a few steps on tiny data; writes only under --out")
    parser.add_argument("--out", default=None, help="output directory (quick: required)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--num-train", type=int, default=6000)
    parser.add_argument("--num-test", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arrow-scale", type=float, default=ARROW_SCALE,
                        help="arrow length and width over the paper's proportions")
    parser.add_argument("--models", nargs="+", default=["plstm", "vit"],
                        choices=["plstm", "vit"])
    parser.add_argument("--no-preset", action="store_true", help="do not write the preset")
    parser.add_argument("--baseline-results", default=None,
                        help="results.json of a separate `--models vit` run to record beside "
                             "the pLSTM (the two can then train in parallel)")
    args = parser.parse_args(argv)
    if args.quick:
        args.image_size, args.num_train, args.num_test = 32, 16, 8
        args.epochs, args.batch_size, args.dim = 1, 8, 8
    out = args.out or (None if not args.quick else "plstm2d_arrow_quick")
    splits = data(args.image_size, args.num_train, args.num_test, args.seed, args.arrow_scale)

    def log(line):
        print(f"[{keras.config.backend()}] {line}", flush=True)

    results, models = {}, {}
    for kind in args.models:
        models[kind], results[kind] = train(kind, args, splits, log)
    if args.baseline_results:
        with open(args.baseline_results) as f:
            baseline = json.load(f)
        results.update({k: v for k, v in baseline["results"].items() if k not in results})
    summary = {"backend": keras.config.backend(), "args": vars(args), "results": results}
    results_path = os.path.join(out or HERE, "results.json")
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    with open(results_path, "w") as f:
        json.dump(summary, f, indent=1)
    if "plstm" in models and not args.no_preset:
        directory = os.path.join(out, NAME) if out else PRESET_DIR
        extra = {"results": results, "train_image_size": args.image_size,
                 "test_image_size": 2 * args.image_size,
                 "train_data": {"dataset": "arrow_pointing",
                                "kwargs": {"image_size": args.image_size,
                                           "num_train": args.num_train,
                                           "num_test": args.num_test,
                                           "object_scale": args.image_size / 192.0,
                                           "seed": args.seed,
                                           "arrow_scale": args.arrow_scale}},
                 "training": {"epochs": args.epochs, "batch_size": args.batch_size,
                              "optimizer": "AdamW, weight decay 0.05, cosine decay from "
                                           f"{args.learning_rate} with 5% warmup"}}
        metadata = zoo.save_preset(
            models["plstm"], directory, name=NAME,
            task=f"arrow pointing: trained at {args.image_size} px, tested at "
                 f"{2 * args.image_size} px (same object scale)",
            metric="accuracy", data={"dataset": "arrow_pointing", "kwargs": splits[3]},
            recipe="model_zoo/plstm2d_arrow/train.py", compile=COMPILE, extra=extra)
        log(f"preset written to {directory}: accuracy {metadata['value']:.4f}")
    return summary


if __name__ == "__main__":
    main()
