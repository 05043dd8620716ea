"""The fused torch recurrences (`keras_gradstab.backend.torch.recurrence`) against
`torch.nn.GRU`, on one intra-op thread.

1. Forward and backward of `torch.nn.GRU(64, 128)` on a time-major `[256, 32, 64]`
   input (loss: the sum of the outputs) against the same for each fused loop with
   its input projection (`x @ kernel + bias`, one matrix product, and its
   backward): NCGRU(128) in both forms, ScoRNN(128) and ENRNN(96, 32) (the modReLU
   loop, 128 units), SBORNN(128, rank 16, heavy ball), and the native GRU with
   weights in Keras's layout (`keras_gradstab.backend.torch.gru`, its own input
   product included: what NCGRU with `candidate_activation="tanh"` runs); then the
   layers as a user calls them on a batch-major `[32, 256, 64]` input with
   `return_sequences=True` (`kg.layers.NCGRU(128)`, the same with
   `candidate_activation="tanh"`, `ScoRNN(128)`, `ENRNN(96, 32)`, and
   `keras.layers.GRU(128)`), Cayley transforms included. Interleaved rounds; rows give
   the median wall and process-CPU seconds and `cpu time / torch GRU`.
2. The bytes each saves for its backward pass at T=4096, B=32, H=128 (counted with
   `torch.autograd.graph.saved_tensors_hooks`, each storage once) against
   `torch.nn.GRU`.

Runs on the torch backend only (other backends get no rows).
"""

import statistics

import keras

from keras_gradstab.benchmarks.timing import interleaved_samples

BATCH, FEATURES, UNITS = 32, 64, 128


def _cases(torch, recurrence, steps, batch):
    from keras_gradstab.backend.torch import gru as native

    gen = torch.Generator().manual_seed(0)

    def param(*shape, scale=0.1):
        return (torch.randn(*shape, generator=gen) * scale).requires_grad_(True)

    x = torch.randn(steps, batch, FEATURES, generator=gen)
    h0 = torch.zeros(batch, UNITS)
    gru = torch.nn.GRU(FEATURES, UNITS)
    modrelu_bias = param(UNITS, scale=0.01)
    cases = {"torch.nn.GRU": lambda: gru(x)[0]}

    def projection(width):
        kernel, bias = param(FEATURES, width), param(width)
        return lambda: torch.addmm(bias, x.reshape(-1, FEATURES), kernel).reshape(
            steps, batch, width
        )

    def ncgru(reset_after):
        project = projection(3 * UNITS)
        recurrent = param(UNITS, (3 if reset_after else 2) * UNITS)
        candidate = None if reset_after else param(UNITS, UNITS)
        return lambda: recurrence.ncgru_recurrence(
            project(), h0, recurrent, candidate, modrelu_bias
        )[0]

    def modrelu():
        project, kernel = projection(UNITS), param(UNITS, UNITS)
        return lambda: recurrence.modrelu_recurrence(project(), h0, kernel, modrelu_bias)[0]

    def sbornn():
        project = projection(UNITS)
        u, v = param(UNITS, 16), param(16, UNITS)
        mu = torch.tensor(0.5, requires_grad=True)
        return lambda: recurrence.sbornn_recurrence(
            project(), (h0, h0), u, v, mu, 1e-3, 1.0, "heavy_ball"
        )[0]

    def native_gru():
        kernel, recurrent = param(FEATURES, 3 * UNITS), param(UNITS, 3 * UNITS)
        bias = param(3 * UNITS)
        return lambda: native.gru(x, h0, kernel, recurrent, bias)[0]

    cases["NCGRU"] = ncgru(True)
    cases["NCGRU reset_after=False"] = ncgru(False)
    cases["ScoRNN"] = modrelu()
    cases["ENRNN(96, 32)"] = modrelu()
    cases["SBORNN heavy_ball rank 16"] = sbornn()
    cases["native GRU, Keras layout"] = native_gru()
    # The layers as a user calls them (batch-major input, every step's output).
    import keras_gradstab as kg

    batch_major = x.transpose(0, 1).contiguous()
    for name, layer in (
        ("layer kg.layers.NCGRU(128)", kg.layers.NCGRU(UNITS, return_sequences=True)),
        (
            'layer kg.layers.NCGRU(128, candidate_activation="tanh")',
            kg.layers.NCGRU(UNITS, candidate_activation="tanh", return_sequences=True),
        ),
        ("layer kg.layers.ScoRNN(128)", kg.layers.ScoRNN(UNITS, return_sequences=True)),
        ("layer kg.layers.ENRNN(96, 32)", kg.layers.ENRNN(96, 32, return_sequences=True)),
        ("layer keras.layers.GRU(128)", keras.layers.GRU(UNITS, return_sequences=True)),
    ):
        layer(batch_major[:, :2])
        cases[name] = lambda layer=layer: layer(batch_major)
    return cases


def _saved_bytes(torch, forward):
    seen = {}

    def pack(t):
        storage = t.untyped_storage()
        seen[(storage.data_ptr(), t.dtype)] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        forward()
    return sum(seen.values())


def run(quick=False):
    if keras.config.backend() != "torch":
        return []
    import torch

    from keras_gradstab.backend.torch import recurrence

    steps = 32 if quick else 256
    repeats = 2 if quick else 7
    memory_steps = 256 if quick else 4096
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cases = _cases(torch, recurrence, steps, BATCH)
        fns = {name: (lambda f=f: f().sum().backward()) for name, f in cases.items()}
        samples = interleaved_samples(fns, repeats, clocks=("wall", "process"))
        wall, cpu = (
            {name: statistics.median(v) for name, v in samples[clock].items()}
            for clock in ("wall", "process")
        )
        rows = [
            {
                "benchmark": "torch_recurrence",
                "backend": "torch",
                "case": f"forward+backward {name}",
                "shape": f"B={BATCH} T={steps} D={FEATURES} H={UNITS}",
                "seconds": wall[name],
                "cpu seconds": cpu[name],
                "cpu time / torch GRU": cpu[name] / cpu["torch.nn.GRU"],
            }
            for name in fns
        ]
        memory_cases = _cases(torch, recurrence, memory_steps, BATCH)
        saved = {name: _saved_bytes(torch, f) for name, f in memory_cases.items()}
        rows += [
            {
                "benchmark": "torch_recurrence",
                "backend": "torch",
                "case": f"saved for backward {name}",
                "shape": f"B={BATCH} T={memory_steps} H={UNITS}",
                "MiB": value / 2**20,
                "saved / torch GRU": value / saved["torch.nn.GRU"],
            }
            for name, value in saved.items()
        ]
    finally:
        torch.set_num_threads(threads)
    return rows
