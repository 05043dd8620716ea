"""The fused torch recurrences against plain torch loops of the same math.

Each fused function's values and gradients (w.r.t. every tensor input) are
compared with autograd through a step-by-step torch loop written here, and its
hand-written backward pass with finite differences (`torch.autograd.gradcheck`,
float64).
"""

import keras
import pytest

if keras.config.backend() != "torch":
    pytest.skip(
        "the fused recurrences are torch functions; they run in the torch process only",
        allow_module_level=True,
    )

import torch  # noqa: E402

from keras_gradstab import backend  # noqa: E402
from keras_gradstab.backend.torch import recurrence  # noqa: E402

T, B, H, RANK = 5, 3, 4, 2


# ---------------------------------------------------------------------------
# Plain-loop references (autograd differentiates them)
# ---------------------------------------------------------------------------


def _modrelu(x, b):
    return torch.where(x.abs() + b <= 0, torch.zeros_like(x), x + b * torch.sign(x))


def _keep(mask, t, new, old):
    return new if mask is None else torch.where(mask[t], new, old)


def modrelu_reference(projected, h0, kernel, bias, mask=None, recurrent_mask=None):
    h, hs = h0, []
    for t in range(projected.shape[0]):
        hd = h if recurrent_mask is None else h * recurrent_mask
        h = _keep(mask, t, _modrelu(projected[t] + hd @ kernel, bias), h)
        hs.append(h)
    return torch.stack(hs), h


def ncgru_reference(projected, h0, recurrent, candidate, bias, mask=None, recurrent_mask=None):
    h, hs, n = h0, [], h0.shape[-1]
    for t in range(projected.shape[0]):
        hd = h if recurrent_mask is None else h * recurrent_mask
        p_u, p_r, p_c = projected[t].split(n, -1)
        rec = hd @ recurrent
        u = torch.sigmoid(p_u + rec[:, :n])
        r = torch.sigmoid(p_r + rec[:, n : 2 * n])
        cand = p_c + r * rec[:, 2 * n :] if candidate is None else p_c + (r * hd) @ candidate
        c = _modrelu(cand, bias)
        h = _keep(mask, t, c + u * (h - c), h)
        hs.append(h)
    return torch.stack(hs), h


def sbornn_reference(projected, states, u, v, mu, eta, alpha, update, mask=None):
    states, hs = list(states), []
    for t in range(projected.shape[0]):
        h = states[0]
        pre = h + (h @ u) @ v + projected[t]
        r = alpha * h - torch.relu(pre)
        rd = r * (pre > 0).to(r.dtype)
        g = alpha * r - rd - (rd @ v.T) @ u.T
        if update == "gd":
            new = [h - eta * g]
        elif update == "heavy_ball":
            velocity = mu * states[1] - eta * g
            new = [h + velocity, velocity]
        else:
            y = h - eta * g
            new = [y + mu * (y - states[1]), y]
        states = [_keep(mask, t, n, c) for n, c in zip(new, states)]
        hs.append(states[0])
    return torch.stack(hs), tuple(states)


# ---------------------------------------------------------------------------
# Cases: (fused function, reference, inputs builder) -> flat tensor arguments
# ---------------------------------------------------------------------------


def _rand(gen, *shape, scale=1.0, dtype=torch.float64):
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).to(dtype)


def _mask(gen):
    mask = torch.rand(T, B, 1, generator=gen) > 0.3
    mask[0, 0] = False  # a masked first step: the state stays h0
    return mask


def modrelu_case(gen, use_mask, use_rm, dtype=torch.float64):
    args = [
        _rand(gen, T, B, H, dtype=dtype),
        _rand(gen, B, H, dtype=dtype),
        _rand(gen, H, H, scale=0.5, dtype=dtype),
        _rand(gen, H, scale=0.3, dtype=dtype),
        _mask(gen) if use_mask else None,
        (torch.rand(B, H, generator=gen, dtype=torch.float64) * 2).to(dtype) if use_rm else None,
    ]
    return recurrence.modrelu_recurrence, modrelu_reference, args


def ncgru_case(gen, use_mask, use_rm, reset_after, dtype=torch.float64):
    args = [
        _rand(gen, T, B, 3 * H, dtype=dtype),
        _rand(gen, B, H, dtype=dtype),
        _rand(gen, H, (3 if reset_after else 2) * H, scale=0.5, dtype=dtype),
        None if reset_after else _rand(gen, H, H, scale=0.5, dtype=dtype),
        _rand(gen, H, scale=0.3, dtype=dtype),
        _mask(gen) if use_mask else None,
        (torch.rand(B, H, generator=gen, dtype=torch.float64) * 2).to(dtype) if use_rm else None,
    ]
    return recurrence.ncgru_recurrence, ncgru_reference, args


def _tensors(args):
    return [a for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]


def _weighted_loss(outputs, weights):
    flat = [outputs[0], *outputs[1]] if isinstance(outputs[1], tuple) else list(outputs)
    return sum((o * w).sum() for o, w in zip(flat, weights))


def _loss_weights(gen, outputs):
    flat = [outputs[0], *outputs[1]] if isinstance(outputs[1], tuple) else list(outputs)
    return [torch.randn(o.shape, generator=gen, dtype=torch.float64) for o in flat]


def _check_against_reference(fused, reference, args, gen):
    tensors = _tensors(args)
    for t in tensors:
        t.requires_grad_(True)
    out = fused(*args)
    ref = reference(*args)
    weights = _loss_weights(gen, ref)
    torch.testing.assert_close(out[0], ref[0], rtol=1e-10, atol=1e-12)
    got = torch.autograd.grad(_weighted_loss(out, weights), tensors)
    want = torch.autograd.grad(_weighted_loss(ref, weights), tensors)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-11)


def _gradcheck(fused, args):
    positions = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
    positions = [i for i in positions if args[i].is_floating_point()]

    def fn(*tensors):
        full = list(args)
        for i, t in zip(positions, tensors):
            full[i] = t
        out = fused(*full)
        return (out[0], *out[1]) if isinstance(out[1], tuple) else out

    inputs = tuple(args[i].detach().requires_grad_(True) for i in positions)
    assert torch.autograd.gradcheck(fn, inputs)


@pytest.mark.parametrize("use_rm", [False, True], ids=["", "rm"])
@pytest.mark.parametrize("use_mask", [False, True], ids=["", "mask"])
def test_modrelu_matches_loop_and_finite_differences(use_mask, use_rm):
    gen = torch.Generator().manual_seed(1)
    fused, reference, args = modrelu_case(gen, use_mask, use_rm)
    _check_against_reference(fused, reference, args, gen)
    _gradcheck(fused, args)


@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
@pytest.mark.parametrize("use_rm", [False, True], ids=["", "rm"])
@pytest.mark.parametrize("use_mask", [False, True], ids=["", "mask"])
def test_ncgru_matches_loop_and_finite_differences(use_mask, use_rm, reset_after):
    gen = torch.Generator().manual_seed(2)
    fused, reference, args = ncgru_case(gen, use_mask, use_rm, reset_after)
    _check_against_reference(fused, reference, args, gen)
    _gradcheck(fused, args)


def _sbornn_args(gen, update, use_mask, dtype=torch.float64):
    n = 1 if update == "gd" else 2
    return [
        _rand(gen, T, B, H, dtype=dtype),
        tuple(_rand(gen, B, H, dtype=dtype) for _ in range(n)),
        _rand(gen, H, RANK, scale=0.5, dtype=dtype),
        _rand(gen, RANK, H, scale=0.5, dtype=dtype),
        None if update == "gd" else torch.tensor(0.6, dtype=dtype),
        0.3,
        1.3,
        update,
        _mask(gen) if use_mask else None,
    ]


def _sbornn_flat(args):
    """The SBO-RNN call as a function of its flat tensors (states unpacked)."""
    projected, states, u, v, mu = args[:5]
    rest = args[5:]
    n = len(states)
    tensors = [projected, *states, u, v] + ([mu] if mu is not None else [])

    def fused(*ts):
        m = ts[3 + n] if mu is not None else None
        return recurrence.sbornn_recurrence(ts[0], ts[1 : 1 + n], ts[1 + n], ts[2 + n], m, *rest)

    def reference(*ts):
        m = ts[3 + n] if mu is not None else None
        return sbornn_reference(ts[0], ts[1 : 1 + n], ts[1 + n], ts[2 + n], m, *rest)

    return fused, reference, tensors


def _case(name, gen, masked, dtype=torch.float64):
    """`(fused, reference, args, tensors)` of one cell: modrelu (with a recurrent
    mask when `masked`), ncgru reset_after (likewise) or sbornn (heavy_ball when
    `masked`, else gd); `tensors` are the float tensor arguments."""
    if name == "modrelu":
        fused, reference, args = modrelu_case(gen, masked, masked, dtype=dtype)
    elif name == "ncgru":
        fused, reference, args = ncgru_case(gen, masked, masked, True, dtype=dtype)
    else:
        update = "heavy_ball" if masked else "gd"
        fused, reference, args = _sbornn_flat(_sbornn_args(gen, update, masked, dtype=dtype))
    return fused, reference, args, _tensors(args)


@pytest.mark.parametrize("use_mask", [False, True], ids=["", "mask"])
@pytest.mark.parametrize("update", ["gd", "heavy_ball", "nesterov"])
def test_sbornn_matches_loop_and_finite_differences(update, use_mask):
    gen = torch.Generator().manual_seed(3)
    fused, reference, tensors = _sbornn_flat(_sbornn_args(gen, update, use_mask))
    _check_against_reference(fused, reference, tensors, gen)
    _gradcheck(fused, tensors)


def test_masked_steps_keep_every_state():
    gen = torch.Generator().manual_seed(4)
    mask = torch.zeros(T, B, 1, dtype=torch.bool)
    _, _, args = modrelu_case(gen, False, False)
    hs, last = recurrence.modrelu_recurrence(*args[:4], mask=mask)
    assert torch.equal(hs, args[1].expand(T, B, H)) and torch.equal(last, args[1])
    args = _sbornn_args(gen, "nesterov", False)
    hs, finals = recurrence.sbornn_recurrence(*args[:8], mask=mask)
    assert torch.equal(hs, args[1][0].expand(T, B, H))
    assert all(torch.equal(f, s) for f, s in zip(finals, args[1]))


def test_inputs_without_grad_get_none():
    gen = torch.Generator().manual_seed(5)
    _, reference, args = ncgru_case(gen, True, True, reset_after=False)
    recurrent = args[2].requires_grad_(True)
    out = recurrence.ncgru_recurrence(*args)
    node = out[0].grad_fn
    grads = node.apply(torch.ones_like(out[0]), torch.zeros_like(out[1]))
    assert len(grads) == 7
    assert [g is None for g in grads] == [True, True, False, True, True, True, True]
    want = torch.autograd.grad(reference(*args)[0].sum(), recurrent)[0]
    torch.testing.assert_close(grads[2], want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ["modrelu", "ncgru", "sbornn"])
def test_low_precision_follows_float32(name, dtype):
    tolerance = {torch.float32: 1e-5, torch.float16: 2e-2, torch.bfloat16: 1e-1}[dtype]

    def run(dt):
        gen = torch.Generator().manual_seed(6)
        fused, _, args, tensors = _case(name, gen, True, dtype=dt)
        for t in tensors:
            t.requires_grad_(True)
        out = fused(*args)
        assert out[0].dtype == dt
        grads = torch.autograd.grad(out[0].float().square().sum(), tensors)
        assert all(g.dtype == dt for g in grads)
        return [out[0]] + list(grads)

    # float32 against float64; half precisions against float32.
    base = run(torch.float64 if dtype == torch.float32 else torch.float32)
    for got, want in zip(run(dtype), base):
        scale = want.abs().max().item() + 1.0
        assert (got.double() - want.double()).abs().max().item() <= tolerance * scale


@pytest.mark.parametrize("name", ["modrelu", "ncgru", "sbornn"])
def test_nan_propagates(name):
    gen = torch.Generator().manual_seed(7)
    fused, reference, args, tensors = _case(name, gen, False)
    with torch.no_grad():
        args[0][2, 0, 0] = float("nan")
    for t in tensors:
        t.requires_grad_(True)
    hs = fused(*args)[0]
    assert not torch.isnan(hs[:2]).any()
    assert torch.isnan(hs[2:, 0]).any(dim=-1).all()
    ref = reference(*args)[0]
    torch.testing.assert_close(hs, ref, equal_nan=True)
    weights = torch.randn(hs.shape, generator=gen, dtype=hs.dtype)
    got = torch.autograd.grad((hs * weights).sum(), tensors)
    want = torch.autograd.grad((ref * weights).sum(), tensors)
    assert any(torch.isnan(g).any() for g in want)
    for g, w in zip(got, want):
        # NaN wherever autograd has NaN; where a branch's derivative is zero the
        # fused pass multiplies a NaN by it (NaN), autograd's `where` gives 0.
        assert not (torch.isnan(w) & ~torch.isnan(g)).any()
        finite = ~torch.isnan(g)
        torch.testing.assert_close(g[finite], w[finite])


def test_inference_runs_the_loop_only():
    gen = torch.Generator().manual_seed(8)
    _, _, args = ncgru_case(gen, True, True, reset_after=True)
    tensors = _tensors(args)
    for t in tensors:
        t.requires_grad_(True)
    with_grad = recurrence.ncgru_recurrence(*args)
    packed = []
    with (
        torch.no_grad(),
        torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t) or t, lambda t: t),
    ):
        without = recurrence.ncgru_recurrence(*args)
    assert not packed
    assert without[0].grad_fn is None and not without[0].requires_grad
    torch.testing.assert_close(without[0], with_grad[0], rtol=0, atol=0)


def test_compiled_callers_run_the_fused_loop():
    gen = torch.Generator().manual_seed(9)
    _, reference, args = modrelu_case(gen, False, False)
    before = recurrence.CALLS["modrelu_recurrence"]

    def caller(p, h0, kernel, bias):
        return recurrence.modrelu_recurrence(p * 1.0, h0, kernel, bias)[0].sum()

    compiled = torch.compile(caller, backend="eager")
    got = compiled(*args[:4])
    assert recurrence.CALLS["modrelu_recurrence"] == before + 1
    torch.testing.assert_close(got, reference(*args[:4])[0].sum())


def test_backend_maps_the_fused_cells():
    from keras_gradstab.backend.torch import gru

    assert backend.fused_recurrence == {
        "gru": gru.gru,
        "modrelu": recurrence.modrelu_recurrence,
        "ncgru": recurrence.ncgru_recurrence,
        "sbornn": recurrence.sbornn_recurrence,
    }


def _saved_bytes(fn):
    seen = {}

    def pack(t):
        seen[(t.untyped_storage().data_ptr(), t.dtype)] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def test_saved_tensors_within_twice_torch_gru():
    steps, batch, units = 64, 8, 32
    x = torch.randn(steps, batch, units)
    gru = torch.nn.GRU(units, units)
    gru_bytes = _saved_bytes(lambda: gru(x))
    p = torch.randn(steps, batch, 3 * units, requires_grad=True)
    h0 = torch.zeros(batch, units)
    recurrent = torch.randn(units, 3 * units, requires_grad=True)
    bias = torch.zeros(units, requires_grad=True)
    ours = _saved_bytes(lambda: recurrence.ncgru_recurrence(p, h0, recurrent, None, bias))
    assert 0 < ours <= 2 * gru_bytes


def test_bad_arguments_raise():
    gen = torch.Generator().manual_seed(10)
    args = _sbornn_args(gen, "gd", False)
    with pytest.raises(ValueError, match="update"):
        recurrence.sbornn_recurrence(*args[:7], "adam")
    with pytest.raises(ValueError, match="states"):
        recurrence.sbornn_recurrence(*args[:7], "heavy_ball")
    with pytest.raises(ValueError, match="projected"):
        recurrence.modrelu_recurrence(torch.zeros(B, H), torch.zeros(B, H), torch.eye(H), None)


@pytest.mark.parametrize("name", ["modrelu", "ncgru"])
def test_batch_major_projection_transposed_in(name):
    # The layers project batch-major inputs and hand over a transposed view.
    gen = torch.Generator().manual_seed(11)
    fused, reference, args, _ = _case(name, gen, True)
    batch_major = args[0].transpose(0, 1).contiguous().requires_grad_(True)
    args[0] = batch_major.transpose(0, 1)
    assert not args[0].is_contiguous()
    out, ref = fused(*args)[0], reference(*args)[0]
    torch.testing.assert_close(out, ref)
    assert out.is_contiguous()
    weights = torch.randn(out.shape, generator=gen, dtype=out.dtype)
    got = torch.autograd.grad((out * weights).sum(), batch_major)[0]
    want = torch.autograd.grad((ref * weights).sum(), batch_major)[0]
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", ["modrelu", "ncgru"])
def test_single_step(name):
    gen = torch.Generator().manual_seed(12)
    fused, reference, args, _ = _case(name, gen, False)
    args[0] = args[0][:1].clone()
    _check_against_reference(fused, reference, args, gen)


def check_docstring_example(obj):
    """Runs the `>>>` examples of `obj`'s docstring (fresh globals) and checks them."""
    import doctest

    tests = doctest.DocTestFinder(recurse=False).find(obj, obj.__name__, module=False, globs={})
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    report = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.summarize(verbose=False).attempted > 0
    assert runner.summarize(verbose=False).failed == 0, "".join(report)


@pytest.mark.parametrize("name", ["modrelu", "ncgru", "sbornn"])
def test_docstring_example(name):
    check_docstring_example(getattr(recurrence, f"{name}_recurrence"))
