"""Timing helpers shared by the benchmarks.

`KERAS_GRADSTAB_BENCH_CLOCK=process` times with the process's CPU time
(`time.process_time`, all its threads) instead of wall time: on a machine that
other jobs load, CPU time counts the work done rather than the waiting. Pair it
with one thread (`OMP_NUM_THREADS=1`) so that spinning threads do not count.
"""

import os
import statistics
import time

CLOCKS = {"wall": time.perf_counter, "process": time.process_time}


def _clock_name():
    name = os.environ.get("KERAS_GRADSTAB_BENCH_CLOCK", "wall")
    if name not in CLOCKS:
        raise ValueError(
            f"KERAS_GRADSTAB_BENCH_CLOCK must be one of {sorted(CLOCKS)}; received {name!r}."
        )
    return name


def median_seconds(fn, repeats, warmup=2):
    """Median time of `fn()` over `repeats` runs after `warmup` runs.

    Wall time unless `KERAS_GRADSTAB_BENCH_CLOCK=process` (see the module
    docstring). `fn` must block until its result is computed (call
    `block_until_ready` or convert to NumPy inside it).
    """
    return interleaved_medians({"fn": fn}, repeats, warmup)["fn"]


def interleaved_samples(fns, repeats, warmup=2, clocks=("wall",)):
    """Each `fns[name]()` timed `repeats` times, the cases taking turns.

    One round runs every case once; `repeats` rounds follow `warmup` rounds. Taking
    turns spreads a change in the machine's load over all cases alike, so their
    ratios hold better than those of back-to-back runs.

    Returns:
        `{clock: {name: [seconds of each round]}}` for each clock named in
        `clocks` ("wall", "process"), all read around the same call.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples = {clock: {name: [] for name in fns} for clock in clocks}
    for _ in range(repeats):
        for name, fn in fns.items():
            starts = [CLOCKS[clock]() for clock in clocks]
            fn()
            for clock, start in zip(clocks, starts):
                samples[clock][name].append(CLOCKS[clock]() - start)
    return samples


def interleaved_medians(fns, repeats, warmup=2):
    """`{name: median time}` of each `fns[name]()` (`interleaved_samples`), on the
    clock `KERAS_GRADSTAB_BENCH_CLOCK` picks."""
    clock = _clock_name()
    samples = interleaved_samples(fns, repeats, warmup, clocks=(clock,))[clock]
    return {name: statistics.median(values) for name, values in samples.items()}


def torch_backward(loss, params):
    """A zero-argument callable: `loss().backward()` on torch, returning the
    gradients of `params` (cleared before each call)."""

    def run():
        for p in params:
            p.grad = None
        loss().backward()
        return [p.grad for p in params]

    return run
