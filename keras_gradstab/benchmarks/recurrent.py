"""Training-step time of the orthogonal recurrent layers against Keras's GRU and
SimpleRNN, and the cost of NCGRU's two ways to build its Cayley matrix.

1. One `model.train_on_batch` (Adam, MSE on a Dense(1) head on the last state) of
   `Sequential([Input((T, 64)), layer, Dense(1)])` with batch 32, T=256, 128 units:
   NCGRU(128), ScoRNN(128), ENRNN(96, 32), SBORNN(128, rank=50), keras.layers.GRU(128),
   keras.layers.SimpleRNN(128), all built in one process and timed interleaved
   (one step of each in turn, `repeats` rounds). Rows give the median wall and
   process-CPU seconds and `time / GRU`, `cpu time / GRU`, `time / SimpleRNN`
   (below 1 is faster). Keras compiles the step as it does by default on each
   backend (XLA on JAX, tf.function on TensorFlow, eager torch).
2. Building U_c = (I + A)^-1 (I - A) D at n = 128, 512, 1024 by one solve
   (`cayley_inverse="solve"`) or by the Neumann update of a cached inverse
   (`"neumann"`, 6 terms), forward only (jit on JAX, tf.function on TensorFlow).
"""

import statistics

import keras
import numpy as np
from keras import ops

from keras_gradstab import ops as kg_ops
from keras_gradstab.benchmarks.timing import interleaved_samples, median_seconds
from keras_gradstab.layers import ENRNN, NCGRU, SBORNN, ScoRNN

BATCH, FEATURES, UNITS = 32, 64, 128


def _layers():
    return {
        "keras.layers.GRU": lambda: keras.layers.GRU(UNITS),
        "keras.layers.SimpleRNN": lambda: keras.layers.SimpleRNN(UNITS),
        "NCGRU": lambda: NCGRU(UNITS),
        "NCGRU neumann": lambda: NCGRU(UNITS, cayley_inverse="neumann"),
        "ScoRNN": lambda: ScoRNN(UNITS),
        "ENRNN(96, 32)": lambda: ENRNN(96, 32),
        "SBORNN(rank=50)": lambda: SBORNN(UNITS, rank=50),
    }


def _train_step_rows(steps, repeats):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, steps, FEATURES)).astype("float32")
    y = rng.normal(size=(BATCH, 1)).astype("float32")
    fns = {}
    for name, make in _layers().items():
        model = keras.Sequential([keras.Input((steps, FEATURES)), make(), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        fns[name] = lambda m=model: m.train_on_batch(x, y)
    samples = interleaved_samples(fns, repeats, clocks=("wall", "process"))
    wall, cpu = (
        {name: statistics.median(v) for name, v in samples[clock].items()}
        for clock in ("wall", "process")
    )
    return [
        {
            "benchmark": "recurrent",
            "backend": keras.config.backend(),
            "case": f"train step {name}",
            "shape": f"B={BATCH} T={steps} D={FEATURES} H={UNITS}",
            "seconds": wall[name],
            "cpu seconds": cpu[name],
            "time / GRU": wall[name] / wall["keras.layers.GRU"],
            "cpu time / GRU": cpu[name] / cpu["keras.layers.GRU"],
            "time / SimpleRNN": wall[name] / wall["keras.layers.SimpleRNN"],
        }
        for name in fns
    ]


def _compiled(fn):
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        jitted = jax.jit(fn)
        return lambda *a: jax.block_until_ready(jitted(*a))
    if backend == "tensorflow":
        import tensorflow as tf

        graph = tf.function(fn)
        return lambda *a: graph(*a).numpy()
    if backend == "torch":
        import torch

        def run_without_grad(*a):
            with torch.no_grad():
                return fn(*a)

        return run_without_grad
    return fn


def _cayley_times(n, repeats, terms):
    rng = np.random.default_rng(n)
    x = rng.normal(scale=0.1, size=(n, n)).astype("float32")
    a = x - x.T
    change = rng.normal(scale=1e-3, size=(n, n)).astype("float32")
    a_new = ops.convert_to_tensor(a + change - change.T)
    inverse = ops.convert_to_tensor(np.linalg.inv(np.eye(n) + a).astype("float32"))
    a = ops.convert_to_tensor(a)
    d = ops.convert_to_tensor(np.r_[np.ones(n - n // 2), -np.ones(n // 2)].astype("float32"))

    def solve(a_new):
        return kg_ops.cayley(a_new, d)

    def neumann(a_new, a_old, inverse):
        eye = ops.eye(n, dtype=a_new.dtype)
        b = ops.matmul(kg_ops.neumann_inverse(ops.matmul(inverse, a_new - a_old), terms), inverse)
        return ops.matmul(b, eye - a_new) * d

    solve_fn, neumann_fn = _compiled(solve), _compiled(neumann)
    return {
        "solve": median_seconds(lambda: solve_fn(a_new), repeats),
        "neumann": median_seconds(lambda: neumann_fn(a_new, a, inverse), repeats),
    }


def _cayley_rows(sizes, repeats, terms=6):
    rows = []
    for n in sizes:
        times = _cayley_times(n, repeats, terms)
        for name, value in times.items():
            rows.append(
                {
                    "benchmark": "recurrent",
                    "backend": keras.config.backend(),
                    "case": f"cayley {name}" + (f" ({terms} terms)" if name == "neumann" else ""),
                    "shape": f"n={n}",
                    "seconds": value,
                    "neumann / solve": times["neumann"] / times["solve"],
                }
            )
    return rows


def run(quick=False):
    steps = 32 if quick else 256
    repeats = 2 if quick else 7
    sizes = (128,) if quick else (128, 512, 1024)
    return _train_step_rows(steps, repeats) + _cayley_rows(sizes, repeats=3 if quick else 10)
