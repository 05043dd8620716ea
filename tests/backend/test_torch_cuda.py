"""The CUDA-graph cache of the fused torch recurrences (`backend/torch/cuda_graphs.py`).

On a CPU the cache's keying, static buffers, replay bookkeeping and fallbacks
run with `EagerRecorder` (each "replay" re-runs the recorded body) through the
public fused functions, against the plain torch loops of
`test_torch_recurrence.py`. The tests marked `cuda` record real CUDA graphs and
are skipped without a GPU.

The Triton kernel of the NC-GRU forward loop (`backend/torch/triton_ncgru.py`)
is checked where `triton` is installed: on a GPU, or on a CPU through Triton's
interpreter (`TRITON_INTERPRET=1`, set here before the kernel module is imported
when no GPU is present).
"""

import keras
import pytest

if keras.config.backend() != "torch":
    pytest.skip(
        "the CUDA graphs wrap torch functions; they run in the torch process only",
        allow_module_level=True,
    )

import os  # noqa: E402

import torch  # noqa: E402

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
from test_torch_recurrence import (  # noqa: E402
    _loss_weights,
    _sbornn_args,
    _sbornn_flat,
    _tensors,
    _weighted_loss,
    check_docstring_example,
    modrelu_case,
    ncgru_case,
    ncgru_reference,
)

from keras_gradstab.backend.torch import cuda_graphs, recurrence, triton_ncgru  # noqa: E402

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
needs_triton = pytest.mark.skipif(not triton_ncgru.AVAILABLE, reason="needs `triton`")
TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _case(name, gen, masked=False, device="cpu", dtype=torch.float64):
    """(fused function, plain-loop reference, flat argument list) on `device`."""
    if name == "modrelu":
        fused, reference, args = modrelu_case(gen, masked, masked, dtype=dtype)
    elif name == "ncgru":
        fused, reference, args = ncgru_case(gen, masked, masked, True, dtype=dtype)
    elif name == "ncgru_before":
        fused, reference, args = ncgru_case(gen, masked, masked, False, dtype=dtype)
    else:
        update = "gd" if name == "sbornn" else name.split("_", 1)[1]
        fused, reference, args = _sbornn_flat(_sbornn_args(gen, update, masked, dtype=dtype))
    args = [a.to(device) if isinstance(a, torch.Tensor) else a for a in args]
    return fused, reference, args


def _fresh(args, grad=True):
    """New leaves with the values of `args` (floating tensors require grad when `grad`)."""
    out = []
    for a in args:
        if isinstance(a, torch.Tensor):
            a = a.detach().clone()
            if grad and a.is_floating_point():
                a.requires_grad_(True)
        out.append(a)
    return out


def _value_and_grads(fn, args, weights):
    out = fn(*args)
    loss = _weighted_loss(out, weights)
    return out, torch.autograd.grad(loss, _tensors(args))


@pytest.fixture(autouse=True)
def _graphs_on(monkeypatch):
    """The cache is opt-in: every test here turns it on unless it checks otherwise."""
    monkeypatch.setenv(cuda_graphs.ENV_VAR, "1")


@pytest.fixture
def stand_in(monkeypatch):
    """`cuda_graphs.CACHE` replaced by a cache that records CPU calls with `EagerRecorder`."""
    cache = cuda_graphs.GraphCache(cuda_graphs.EagerRecorder(), eligible=lambda x: True)
    monkeypatch.setattr(cuda_graphs, "CACHE", cache)
    return cache


def _check_replays(name, device, rtol, atol):
    """Three calls of one key with new values each: eager, recorded, replayed; each
    call's values and gradients against the plain loop."""
    gen = torch.Generator().manual_seed(11)
    with cuda_graphs.counting() as counts:
        for _ in range(3):
            fused, reference, args = _case(name, gen, masked=True, device=device)
            args = _fresh(args)
            ref_out = reference(*args)
            weights = [w.to(device) for w in _loss_weights(gen, ref_out)]
            want, want_grads = _value_and_grads(reference, args, weights)
            got, got_grads = _value_and_grads(fused, args, weights)
            torch.testing.assert_close(got[0], want[0], rtol=rtol, atol=atol)
            for g, w in zip(got_grads, want_grads):
                torch.testing.assert_close(g, w, rtol=rtol, atol=atol)
    assert counts == {"eager": 1, "captures": 1, "replays": 2, "backward_replays": 2}, counts


@pytest.mark.parametrize("name", ["modrelu", "ncgru", "ncgru_before", "sbornn"])
def test_replays_equal_the_loop(name, stand_in):
    _check_replays(name, "cpu", 1e-10, 1e-12)
    assert stand_in.recorder.records == 1


def test_inference_replays_without_autograd(stand_in):
    gen = torch.Generator().manual_seed(12)
    with cuda_graphs.counting() as counts, torch.no_grad():
        for _ in range(3):
            fused, reference, args = _case("ncgru", gen, masked=True)
            got, want = fused(*args), reference(*args)
            assert got[0].grad_fn is None and not got[0].requires_grad
            torch.testing.assert_close(got[0], want[0], rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(got[1], want[1], rtol=1e-10, atol=1e-12)
    assert counts == {"eager": 1, "captures": 1, "replays": 2}, counts


def test_a_second_replay_before_backward_falls_back_to_eager(stand_in):
    # Two calls of one key (two layers of one shape) before the backward pass: the
    # recorded memory holds the second call, so the first one's gradients must be
    # recomputed, not replayed.
    gen = torch.Generator().manual_seed(13)
    fused, reference, args = _case("ncgru", gen)
    fused(*_fresh(args))  # eager
    fused(*_fresh(args))  # recorded
    first = _fresh(args)
    second = [a * 0.5 if isinstance(a, torch.Tensor) else a for a in _fresh(args)]
    weights = _loss_weights(gen, reference(*first))
    with cuda_graphs.counting() as counts:
        out_first, out_second = fused(*first), fused(*second)
        got = torch.autograd.grad(
            _weighted_loss(out_first, weights) + _weighted_loss(out_second, weights),
            _tensors(first) + _tensors(second),
        )
    want = torch.autograd.grad(
        _weighted_loss(reference(*first), weights) + _weighted_loss(reference(*second), weights),
        _tensors(first) + _tensors(second),
    )
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)
    assert counts == {"replays": 2, "backward_replays": 1, "backward_eager": 1}, counts


def test_keys_separate_shapes_masks_and_grad_sets(stand_in):
    gen = torch.Generator().manual_seed(15)
    fused, _, args = _case("ncgru", gen, masked=True)
    plain = list(args)
    plain[5] = plain[6] = None  # no mask, no recurrent mask
    shorter = [args[0][:3]] + list(args[1:5]) + [args[5][:3], args[6]]
    with cuda_graphs.counting() as counts:
        for variant in (args, plain, shorter, _fresh(args)):
            for _ in range(2):
                fused(*variant)
    # Each variant is its own key: seen once (eager), then recorded and replayed.
    assert counts == {"eager": 4, "captures": 4, "replays": 4}, counts
    with cuda_graphs.counting() as counts:
        fused(*_fresh(args, grad=False))  # the values of `args`: its key
        with torch.no_grad():
            fused(*_fresh(args))  # grad mode off: no gradients needed, the same key
    assert counts == {"replays": 2}, counts
    assert len(stand_in.entries) == 4


def test_sbornn_momentum_runs_eagerly(stand_in):
    gen = torch.Generator().manual_seed(16)
    fused, reference, args = _case("sbornn_heavy_ball", gen, masked=True)
    with cuda_graphs.counting() as counts:
        for _ in range(3):
            got = fused(*args)
    assert counts == {"eager": 3}, counts
    torch.testing.assert_close(got[0], reference(*args)[0], rtol=1e-10, atol=1e-12)


def test_cpu_tensors_never_reach_the_cache():
    entries = dict(cuda_graphs.CACHE.entries)
    gen = torch.Generator().manual_seed(17)
    fused, reference, args = _case("ncgru", gen)
    with cuda_graphs.counting() as counts:
        for _ in range(3):
            fused(*args)
    assert counts == {} and dict(cuda_graphs.CACHE.entries) == entries


class _FailingRecorder:
    def __init__(self):
        self.records = 0

    def record(self, bodies):
        self.records += 1
        raise RuntimeError("operation not permitted when stream is capturing")


@pytest.mark.parametrize("value", [None, "0"], ids=["unset", "zero"])
def test_the_cache_is_off_unless_the_environment_variable_is_set(value, stand_in, monkeypatch):
    if value is None:
        monkeypatch.delenv(cuda_graphs.ENV_VAR)
    else:
        monkeypatch.setenv(cuda_graphs.ENV_VAR, value)
    gen = torch.Generator().manual_seed(18)
    fused, reference, args = _case("modrelu", gen)
    with cuda_graphs.counting() as counts:
        for _ in range(3):
            got = fused(*args)
    assert counts == {} and not stand_in.entries
    torch.testing.assert_close(got[0], reference(*args)[0], rtol=1e-10, atol=1e-12)


def test_a_failed_recording_runs_eagerly_from_then_on(monkeypatch):
    recorder = _FailingRecorder()
    cache = cuda_graphs.GraphCache(recorder, eligible=lambda x: True)
    monkeypatch.setattr(cuda_graphs, "CACHE", cache)
    gen = torch.Generator().manual_seed(19)
    fused, reference, args = _case("modrelu", gen)
    with cuda_graphs.counting() as counts:
        for _ in range(4):
            got = fused(*args)
    assert counts == {"eager": 4, "capture_failures": 1}, counts
    assert recorder.records == 1
    torch.testing.assert_close(got[0], reference(*args)[0], rtol=1e-10, atol=1e-12)


def test_least_recently_used_key_is_evicted(monkeypatch):
    cache = cuda_graphs.GraphCache(
        cuda_graphs.EagerRecorder(), eligible=lambda x: True, capture_after=0, max_entries=1
    )
    monkeypatch.setattr(cuda_graphs, "CACHE", cache)
    gen = torch.Generator().manual_seed(20)
    fused, _, args = _case("modrelu", gen)
    shorter = [args[0][:2]] + list(args[1:])
    with torch.no_grad(), cuda_graphs.counting() as counts:
        for variant in (args, shorter, args):
            fused(*variant)
    assert counts == {"captures": 3, "replays": 3, "evictions": 2}, counts
    assert len(cache.entries) == 1


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="capture_after"):
        cuda_graphs.GraphCache(cuda_graphs.EagerRecorder(), capture_after=-1)
    with pytest.raises(ValueError, match="max_entries"):
        cuda_graphs.GraphCache(cuda_graphs.EagerRecorder(), max_entries=0)
    with pytest.raises(ValueError, match="warmup"):
        cuda_graphs.CudaRecorder(warmup=0)


def test_docstring_example():
    check_docstring_example(cuda_graphs.GraphCache)


# ---------------------------------------------------------------------------
# On a GPU: real CUDA graphs
# ---------------------------------------------------------------------------


@pytest.fixture
def cuda_cache(monkeypatch):
    cache = cuda_graphs.GraphCache(cuda_graphs.CudaRecorder())
    monkeypatch.setattr(cuda_graphs, "CACHE", cache)
    return cache


@cuda
@pytest.mark.parametrize("name", ["modrelu", "ncgru", "ncgru_before", "sbornn"])
def test_cuda_graph_replays_equal_the_loop(name, cuda_cache):
    _check_replays(name, "cuda", 1e-9, 1e-11)


@cuda
def test_cuda_graph_replays_equal_eager_in_float32(cuda_cache, monkeypatch):
    gen = torch.Generator().manual_seed(21)
    fused, _, args = _case("ncgru", gen, masked=True, device="cuda", dtype=torch.float32)
    weights = [w.float().cuda() for w in _loss_weights(gen, fused(*args))]
    monkeypatch.setenv(cuda_graphs.ENV_VAR, "0")
    want, want_grads = _value_and_grads(fused, _fresh(args), weights)
    monkeypatch.setenv(cuda_graphs.ENV_VAR, "1")
    with cuda_graphs.counting() as counts:
        for _ in range(3):
            got, got_grads = _value_and_grads(fused, _fresh(args), weights)
    assert counts == {"eager": 1, "captures": 1, "replays": 2, "backward_replays": 2}, counts
    torch.testing.assert_close(got[0], want[0], rtol=1e-6, atol=1e-6)
    for g, w in zip(got_grads, want_grads):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)


@cuda
def test_outputs_are_not_overwritten_by_the_next_replay(cuda_cache):
    # Recorded outputs live at fixed addresses: a call returns copies.
    gen = torch.Generator().manual_seed(14)
    fused, reference, args = _case("modrelu", gen, device="cuda")
    with torch.no_grad():
        for _ in range(2):
            fused(*args)
        kept = fused(*args)
        fused(*[a * 2 if isinstance(a, torch.Tensor) else a for a in args])
    torch.testing.assert_close(kept[0], reference(*args)[0], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# The Triton kernel (a GPU, or Triton's interpreter on a CPU)
# ---------------------------------------------------------------------------


def _triton_args(gen, steps, batch, units, masked, dtype=torch.float64):
    args = [
        torch.randn(steps, batch, 3 * units, generator=gen, dtype=torch.float64),
        torch.randn(batch, units, generator=gen, dtype=torch.float64),
        0.5 * torch.randn(units, 3 * units, generator=gen, dtype=torch.float64),
        0.3 * torch.randn(units, generator=gen, dtype=torch.float64),
        None,
        None,
    ]
    if masked:
        args[4] = torch.rand(steps, batch, 1, generator=gen) > 0.3
        args[4][0, 0] = False
        args[5] = 2 * torch.rand(batch, units, generator=gen, dtype=torch.float64)
    return [
        None if a is None else (a if a.dtype == torch.bool else a.to(dtype)).to(TRITON_DEVICE)
        for a in args
    ]


def _reference(args):
    projected, h0, recurrent, bias, mask, rm = args
    return ncgru_reference(projected, h0, recurrent, None, bias, mask, rm)


@needs_triton
@pytest.mark.parametrize("masked", [False, True], ids=["", "masked"])
@pytest.mark.parametrize(
    "steps,batch,units", [(5, 3, 4), (4, 20, 20)], ids=["one-block", "partial-blocks"]
)
def test_triton_kernel_equals_the_loop(steps, batch, units, masked):
    gen = torch.Generator().manual_seed(30)
    args = _triton_args(gen, steps, batch, units, masked)
    hs, h_last = triton_ncgru.ncgru_forward(*args)
    want_hs, want_last = _reference(args)
    torch.testing.assert_close(hs, want_hs, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_last, want_last, rtol=1e-12, atol=1e-12)


@needs_triton
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_triton_kernel_in_low_precision(dtype):
    # float32 against the fused torch loop; bfloat16 (computed in float32, stored
    # in bfloat16) against the float64 loop, to bfloat16 resolution.
    gen = torch.Generator().manual_seed(31)
    args = _triton_args(gen, 6, 5, 8, True, dtype=dtype)
    hs, _ = triton_ncgru.ncgru_forward(*args)
    assert hs.dtype == dtype
    if dtype == torch.float32:
        projected, h0, recurrent, bias, mask, rm = args
        want = recurrence.ncgru_recurrence(projected, h0, recurrent, None, bias, mask, rm)[0]
        torch.testing.assert_close(hs, want, rtol=1e-5, atol=1e-5)
    else:
        wide = [a if a is None or a.dtype == torch.bool else a.double() for a in args]
        torch.testing.assert_close(hs.double(), _reference(wide)[0], rtol=0.05, atol=0.05)


@needs_triton
def test_triton_kernel_propagates_nan():
    gen = torch.Generator().manual_seed(32)
    args = _triton_args(gen, 4, 3, 4, False)
    args[0][1, 0, 2 * 4] = float("nan")  # the candidate input of row 0 at step 1
    hs, _ = triton_ncgru.ncgru_forward(*args)
    want = _reference(args)[0]
    assert torch.equal(hs.isnan(), want.isnan()) and want.isnan().any()
    torch.testing.assert_close(hs, want, rtol=1e-12, atol=1e-12, equal_nan=True)


@needs_triton
def test_triton_kernel_rejects_bad_shapes():
    gen = torch.Generator().manual_seed(33)
    args = _triton_args(gen, 4, 3, 4, True)
    with pytest.raises(ValueError, match="projected"):
        triton_ncgru.ncgru_forward(args[0][0], *args[1:])
    with pytest.raises(ValueError, match="recurrent_mask"):
        triton_ncgru.ncgru_forward(*args[:5], args[5][:, :2])
    with pytest.raises(ValueError, match="recurrent"):
        triton_ncgru.ncgru_forward(args[0], args[1], args[2][:, :8], *args[3:])


@needs_triton
def test_triton_docstring_example():
    check_docstring_example(triton_ncgru.ncgru_forward)


@pytest.mark.parametrize(
    "recorder", ["stand_in", pytest.param("cuda_cache", marks=cuda)], ids=["stand-in", "cuda"]
)
@pytest.mark.parametrize("layer_name", ["NCGRU", "ScoRNN", "SBORNN"])
def test_layers_train_through_the_cache(layer_name, recorder, request, monkeypatch):
    import keras_gradstab as kg

    request.getfixturevalue(recorder)
    device = "cuda" if recorder == "cuda_cache" else "cpu"
    layer = getattr(kg.layers, layer_name)(6, return_sequences=True)
    gen = torch.Generator().manual_seed(40)
    x = torch.randn(4, 5, 3, generator=gen).to(device)
    weights = torch.randn(4, 5, 6, generator=gen).to(device)
    monkeypatch.setenv(cuda_graphs.ENV_VAR, "0")
    layer(x)  # builds the layer
    variables = [v.value for v in layer.trainable_weights]

    def run():
        out = layer(x)
        return out.detach(), torch.autograd.grad((out * weights).sum(), variables)

    want, want_grads = run()
    monkeypatch.setenv(cuda_graphs.ENV_VAR, "1")
    with cuda_graphs.counting() as counts:
        for _ in range(3):
            got, got_grads = run()
    assert counts == {"eager": 1, "captures": 1, "replays": 2, "backward_replays": 2}, counts
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    for g, w in zip(got_grads, want_grads):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)
