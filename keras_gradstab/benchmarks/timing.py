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


def _clock():
    name = os.environ.get("KERAS_GRADSTAB_BENCH_CLOCK", "wall")
    if name not in CLOCKS:
        raise ValueError(
            f"KERAS_GRADSTAB_BENCH_CLOCK must be one of {sorted(CLOCKS)}; received {name!r}."
        )
    return CLOCKS[name]


def median_seconds(fn, repeats, warmup=2):
    """Median time of `fn()` over `repeats` runs after `warmup` runs.

    Wall time unless `KERAS_GRADSTAB_BENCH_CLOCK=process` (see the module
    docstring). `fn` must block until its result is computed (call
    `block_until_ready` or convert to NumPy inside it).
    """
    clock = _clock()
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def interleaved_medians(fns, repeats, warmup=2):
    """`{name: median time}` of each `fns[name]()`, the cases taking turns.

    One round runs every case once; `repeats` rounds follow `warmup` rounds. Taking
    turns spreads a change in the machine's load over all cases alike, so their
    ratios hold better than those of back-to-back medians.
    """
    clock = _clock()
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: statistics.median(values) for name, values in times.items()}
