"""Forward+backward of `PLSTM2D` at growing grids, parallel against recurrent form,
with the peak memory of each.

Each (grid, form) runs in a fresh process of this backend, so that its peak
resident memory (`resource.getrusage`, which never goes down) is its own; the
row reports the peak and its rise over the process's memory just before the
first call (model built, data made). The timed step is the gradient of a
scalar loss w.r.t. every weight of one `PLSTM2D(num_heads=4, mode="PD")` layer,
64 features, batch 2, four orientations: `jax.jit(jax.grad)` on JAX,
`tf.function` with a `GradientTape` on TensorFlow, eager `backward()` on torch.

`kernel_tiles` times the kernel `keras_gradstab.ops.plstm_2d` alone, forward
only, on one 32x32 grid with 4 heads (folded into the batch) and 8 features:
the parallel form at tile side 4 and 8 and the recurrent form, in one process,
the cases taking turns (`interleaved_medians`): compiled with `jax.jit` on JAX,
`tf.function` on TensorFlow, eager on torch.
"""

import json
import os
import resource
import subprocess
import sys

BATCH, FEATURES, HEADS = 2, 64, 4


def _peak_mb():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _measure(size, form, repeats):
    """Runs in the child process: returns {"seconds", "peak_mb", "rise_mb"}."""
    import keras
    import numpy as np

    from keras_gradstab.benchmarks.timing import median_seconds
    from keras_gradstab.layers import PLSTM2D

    backend = keras.config.backend()
    x = np.random.default_rng(0).normal(size=(BATCH, size, size, FEATURES)).astype("float32")
    layer = PLSTM2D(num_heads=HEADS, mode="PD", form=form)
    layer.build(x.shape)
    if backend == "jax":
        import jax

        x = jax.numpy.asarray(x)
        trainable = [w.value for w in layer.trainable_variables]
        non_trainable = [w.value for w in layer.non_trainable_variables]

        def loss(values):
            out, _ = layer.stateless_call(values, non_trainable, x)
            return jax.numpy.mean(out**2)

        grad = jax.jit(jax.grad(loss))

        def step():
            return jax.block_until_ready(grad(trainable))
    elif backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        variables = [w.value for w in layer.trainable_variables]

        @tf.function
        def grad():
            with tf.GradientTape() as tape:
                value = tf.reduce_mean(layer(x) ** 2)
            return tape.gradient(value, variables)

        def step():
            return [g.numpy() for g in grad()]
    elif backend == "torch":
        import torch

        x = torch.as_tensor(x)
        params = [w.value for w in layer.trainable_variables]

        def step():
            for p in params:
                p.grad = None
            (layer(x) ** 2).mean().backward()
            return [p.grad for p in params]
    else:
        raise ValueError(f"no pLSTM benchmark for backend {backend!r}")
    before = _peak_mb()
    seconds = median_seconds(step, repeats, warmup=1)
    peak = _peak_mb()
    return {"seconds": seconds, "peak_mb": peak, "rise_mb": peak - before}


KERNEL_GRID, KERNEL_HEADS, KERNEL_FEATURES = 32, 4, 8
KERNEL_CASES = (("parallel", 4), ("parallel", 8), ("recurrent", None))


def kernel_tiles(repeats=20, grid=KERNEL_GRID):
    """Forward seconds of `plstm_2d` per (form, tile side), measured in this process."""
    import keras
    import numpy as np

    from keras_gradstab import ops as kg_ops
    from keras_gradstab.benchmarks.timing import interleaved_medians

    backend = keras.config.backend()
    rng = np.random.default_rng(0)
    shape = (KERNEL_HEADS, grid, grid)
    q, k, v = (rng.normal(size=shape + (KERNEL_FEATURES,)).astype("float32") for _ in range(3))
    gates = [rng.uniform(0.0, 1.0, size=shape).astype("float32") for _ in range(9)]
    args = [keras.ops.convert_to_tensor(t) for t in [q, k, v] + gates]

    def forward(form, chunk):
        def fn(*a):
            return kg_ops.plstm_2d(*a, chunk_size=chunk, form=form)

        if backend == "jax":
            import jax

            fn = jax.jit(fn)
            return lambda: jax.block_until_ready(fn(*args))
        if backend == "tensorflow":
            import tensorflow as tf

            fn = tf.function(fn)
        return lambda: keras.ops.convert_to_numpy(fn(*args))

    names = {f"{form} {chunk}" if chunk else form: (form, chunk) for form, chunk in KERNEL_CASES}
    seconds = interleaved_medians(
        {name: forward(*case) for name, case in names.items()}, repeats, warmup=2
    )
    return [
        {
            "benchmark": "plstm",
            "backend": backend,
            "case": f"plstm_2d forward {name}",
            "shape": f"{grid}x{grid} H={KERNEL_HEADS} D={KERNEL_FEATURES}",
            "seconds": seconds[name],
        }
        for name in names
    ]


def run(quick=False):
    import keras

    sizes = (8, 16) if quick else (8, 16, 32, 64)
    repeats = 2 if quick else 3
    rows = []
    for size in sizes:
        for form in ("parallel", "recurrent"):
            cmd = [
                sys.executable,
                "-m",
                "keras_gradstab.benchmarks.plstm",
                str(size),
                form,
                str(repeats),
            ]
            proc = subprocess.run(
                cmd, env=dict(os.environ), capture_output=True, text=True, timeout=1800
            )
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            result = (
                json.loads(lines[-1][len("RESULT ") :])
                if lines
                else {
                    "seconds": float("nan"),
                    "error": (proc.stderr.strip().splitlines() or ["?"])[-1],
                }
            )
            rows.append(
                {
                    "benchmark": "plstm",
                    "backend": keras.config.backend(),
                    "case": f"PLSTM2D {form}",
                    "shape": f"B={BATCH} {size}x{size} D={FEATURES} H={HEADS}",
                    **result,
                }
            )
    return kernel_tiles(repeats=5 if quick else 20) + rows


if __name__ == "__main__":
    size, form, repeats = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    print("RESULT " + json.dumps(_measure(size, form, repeats)))
