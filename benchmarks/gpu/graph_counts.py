"""The CUDA fast path of the fused torch recurrences: graph counters, then times.

    KERAS_BACKEND=torch python benchmarks/gpu/graph_counts.py [--quick] [--json FILE]

1. An NCGRU layer trains a few batches and predicts a few times; the change of
   `keras_gradstab.backend.torch.cuda_graphs.COUNTS` is printed after each
   (on a GPU: one eager call and one recording per key, replays afterwards; on
   a CPU every count stays 0, since CPU tensors never reach the cache).
2. `ncgru_recurrence` (reset_after) per call, forward + backward and inference:
   eager loop (`KERAS_GRADSTAB_CUDA_GRAPHS=0`), CUDA graph replay, and the
   Triton kernel (`triton_ncgru.ncgru_forward`, inference) where `triton` is
   installed. On a CPU only the eager loop is timed.

Sizes: B=32, T=256, H=128 (`--quick`: B=8, T=32, H=32). Rows are printed as a
Markdown table (lines starting with "|") and, with `--json`, written as JSON.
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import keras_gradstab as kg  # noqa: E402
from keras_gradstab.backend.torch import cuda_graphs, recurrence, triton_ncgru  # noqa: E402


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _per_call_ms(fn, reps):
    fn()
    fn()
    _sync()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    _sync()
    return 1e3 * (time.perf_counter() - start) / reps


def layer_counts(batch, steps, units):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, steps, 8)).astype("float32")
    y = rng.normal(size=(batch, units)).astype("float32")
    model = keras.Sequential([keras.Input((steps, 8)), kg.layers.NCGRU(units)])
    model.compile(optimizer="adam", loss="mse")
    with cuda_graphs.counting() as train:
        for _ in range(4):
            model.train_on_batch(x, y)
    with cuda_graphs.counting() as infer:
        for _ in range(3):
            model.predict_on_batch(x)
    return dict(train), dict(infer)


def recurrence_times(batch, steps, units, reps):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator().manual_seed(0)

    def rand(*shape, scale=1.0):
        return (scale * torch.randn(*shape, generator=gen)).to(device)

    args = [
        rand(steps, batch, 3 * units),
        rand(batch, units),
        rand(units, 3 * units, scale=units**-0.5),
        None,
        rand(units, scale=0.1),
    ]
    leaves = [a.requires_grad_() if a is not None else a for a in args]
    upstream = torch.randn(steps, batch, units, generator=gen).to(device)

    def train():
        hs, _ = recurrence.ncgru_recurrence(*leaves)
        torch.autograd.grad(hs, [a for a in leaves if a is not None], upstream)

    def infer():
        with torch.no_grad():
            recurrence.ncgru_recurrence(*leaves)

    rows = []
    previous = os.environ.get(cuda_graphs.ENV_VAR)
    modes = ["0", "1"] if device == "cuda" else ["0"]
    for mode in modes:
        os.environ[cuda_graphs.ENV_VAR] = mode
        name = "eager loop" if mode == "0" else "CUDA graph replay"
        rows.append(("forward+backward", name, _per_call_ms(train, reps)))
        rows.append(("inference", name, _per_call_ms(infer, reps)))
    if previous is None:
        os.environ.pop(cuda_graphs.ENV_VAR)
    else:
        os.environ[cuda_graphs.ENV_VAR] = previous
    if triton_ncgru.AVAILABLE and device == "cuda":
        plain = [a.detach() for a in args if a is not None]
        want = recurrence.ncgru_recurrence(plain[0], plain[1], plain[2], None, plain[3])[0]
        got = triton_ncgru.ncgru_forward(*plain)[0]
        error = float((got - want).abs().max())
        ms = _per_call_ms(lambda: triton_ncgru.ncgru_forward(*plain), reps)
        rows.append(("inference", f"Triton kernel (max |diff| {error:.1e})", ms))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="B=8, T=32, H=32")
    parser.add_argument("--json", help="write the counters and rows to this file")
    options = parser.parse_args()
    batch, steps, units = (8, 32, 32) if options.quick else (32, 256, 128)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(f"device {device}, torch {torch.__version__}, triton: {triton_ncgru.AVAILABLE}")
    train, infer = layer_counts(batch, steps, units)
    print(f"NCGRU layer, 4 train_on_batch: cuda_graphs counts {train}")
    print(f"NCGRU layer, 3 predict_on_batch: cuda_graphs counts {infer}")
    rows = recurrence_times(batch, steps, units, reps=5 if options.quick else 20)
    print(f"\nncgru_recurrence, B={batch}, T={steps}, H={units}, float32, ms per call")
    print("| pass | path | ms |\n| --- | --- | ---: |")
    for kind, name, ms in rows:
        print(f"| {kind} | {name} | {ms:.3f} |")
    print(f"cuda_graphs counts, whole run: {dict(cuda_graphs.COUNTS)}")
    if options.json:
        with open(options.json, "w") as f:
            json.dump(
                {
                    "device": device,
                    "sizes": [batch, steps, units],
                    "layer_train_counts": train,
                    "layer_predict_counts": infer,
                    "rows": rows,
                    "counts": dict(cuda_graphs.COUNTS),
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
