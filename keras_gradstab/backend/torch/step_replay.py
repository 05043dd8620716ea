"""PyTorch: a scan step recorded once, optimized, and replayed at every step.

JAX and TensorFlow trace the body of a scan once and run the traced program at
every step. The torch loop gets the same from this module: the first step runs
`fn` eagerly under a `TorchDispatchMode` that records every ATen call it makes
(the calls that reach the kernels, after Keras's Python layer and after
autograd), the recording becomes a straight-line Python function of the step's
inputs, and the remaining steps call that function. Keras's per-operation
overhead in `keras.ops` (argument conversion, dtype resolution) is paid once
instead of at every step, and autograd records the replayed ATen calls as it
records any others, so gradients are those of `fn`.

Two rewrites make the replayed step cheaper than the eager one, in the backward
pass above all, where every recorded operation becomes an autograd node:

- Slices of one tensor along one axis that do not overlap (a step that cuts its
  gate pre-activations into parts, `x[:, :n]`, `x[:, n:2 * n]`, ...) become one
  `split_with_sizes`: one backward node that concatenates the parts' gradients,
  instead of one zero-filled buffer per slice and additions to sum them.
- `mm(a, b)` whose only use is the addition of a bias becomes `addmm`.
- Calls whose results nothing uses, and that change nothing in place, are
  dropped (autograd's own `detach` of the results it saves shows up in the
  recording, and autograd issues it again for the replayed calls).

When the step cannot be replayed faithfully, `record` returns no program and
the scan calls `fn` at every step as before. That is the case when the step
reads a tensor's value into Python (`float(t)`, `if t > 0:`), whose outcome a
replay would freeze; when part of it runs with gradients off while the scan
records them (a custom `autograd.Function` such as `keras.ops.custom_gradient`,
or a `torch.no_grad()` block), whose backward a replay of the ATen calls would
not reproduce; when it calls `as_strided`, which is tied to the first step's
memory layout; or when an operation returns something other than tensors.
Should a replayed step still fail (a call fixed for the first step's inputs),
the scan calls `fn` from that step on.
A `view` or `_unsafe_view` in the recording is replayed as `reshape`: which of
them `reshape` issued depended on the first step's memory layout, and a later
step's input may be laid out otherwise.
A step whose values leave torch and come back (a NumPy computation on the
carry) records its result as a constant; the scan replays its second step
beside `fn` and keeps calling `fn` if the two disagree (`StepProgram.agrees`).
As on the other backends, `fn` must be a pure function of its arguments and of
the tensors it closes over: Python state it reads is read once.
"""

import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten

# Calls that move a tensor's value into Python: a replay would freeze their outcome.
_READS_VALUES = {
    aten._local_scalar_dense.default,
    aten.is_nonzero.default,
    aten.equal.default,
}


# Decompositions picked for the first step's memory layout: `reshape` records as
# `view` for a contiguous input and as `clone` + `_unsafe_view` for another, and a
# later step's input may be laid out otherwise. The replay calls `reshape` itself.
_AS_RESHAPE = {aten.view.default, aten._unsafe_view.default}
# Calls tied to the first step's strides that `reshape` cannot stand in for.
_LAYOUT_SPECIFIC = {aten.as_strided.default, aten.as_strided_.default}


class _Recorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.calls = []
        self.grad_enabled = torch.is_grad_enabled()
        self.faithful = True

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if (
            func in _READS_VALUES
            or func in _LAYOUT_SPECIFIC
            or torch.is_grad_enabled() != self.grad_enabled
        ):
            self.faithful = False
        # The call list keeps every tensor alive, so `id`s stay unique while recording.
        self.calls.append([func, args, kwargs, out])
        return out


class _Value:
    """A tensor of the step: an input, an operation's output, or a constant."""

    __slots__ = ("name", "tensor")

    def __init__(self, name, tensor):
        self.name = name
        self.tensor = tensor


class _Node:
    __slots__ = ("func", "args", "kwargs", "outs", "tuple_out")

    def __init__(self, func, args, kwargs, outs, tuple_out):
        self.func, self.args, self.kwargs = func, args, kwargs
        self.outs, self.tuple_out = outs, tuple_out


def _to_graph(calls, input_leaves):
    """The recorded calls as nodes over `_Value`s; None if an output is not a tensor."""
    values = {id(t): _Value(f"i{i}", t) for i, t in enumerate(input_leaves)}
    constants = []

    def wrap(a):
        value = values.get(id(a))
        if value is None:  # a tensor from outside the step (a weight, a constant)
            value = values[id(a)] = _Value(f"k{len(constants)}", a)
            constants.append(value)
        return value

    nodes = []
    for n, (func, args, kwargs, out) in enumerate(calls):
        func = aten.reshape.default if func in _AS_RESHAPE else func
        args, kwargs = pytree.tree_map_only(torch.Tensor, wrap, (tuple(args), kwargs))
        tuple_out = isinstance(out, (list, tuple))
        outs = list(out) if tuple_out else [out]
        if not all(isinstance(o, torch.Tensor) for o in outs):
            return None, None
        out_values = []
        for j, o in enumerate(outs):
            # An in-place call returns its argument: keep the argument's name.
            value = values.get(id(o))
            if value is None:
                value = values[id(o)] = _Value(f"v{n}_{j}", o)
            out_values.append(value)
        nodes.append(_Node(func, args, kwargs, out_values, tuple_out))
    return nodes, values


def _uses(nodes, outputs):
    counts = {}
    for a in pytree.tree_leaves([(node.args, node.kwargs) for node in nodes] + list(outputs)):
        if isinstance(a, _Value):
            counts[id(a)] = counts.get(id(a), 0) + 1
    return counts


def _slice_range(node):
    """(source, dim, start, stop) of a unit-step `aten.slice`, or None."""
    if node.func is not aten.slice.Tensor or node.kwargs:
        return None
    defaults = (None, 0, None, None, 1)
    source, dim, start, stop, step = tuple(node.args) + defaults[len(node.args) :]
    if not isinstance(source, _Value) or step != 1:
        return None
    rank = source.tensor.dim()
    size = source.tensor.shape[dim]
    dim = dim % rank
    start = 0 if start is None else start
    stop = size if stop is None else stop
    start = max(0, min(size, start + size if start < 0 else start))
    stop = max(start, min(size, stop + size if stop < 0 else stop))
    return source, dim, start, stop


def _substitute(nodes, outputs, mapping):
    """Every use of a value in `mapping` (by id) reads its replacement instead."""

    def swap(a):
        return mapping.get(id(a), a)

    for node in nodes:
        node.args, node.kwargs = pytree.tree_map_only(_Value, swap, (node.args, node.kwargs))
    outputs[:] = pytree.tree_map_only(_Value, swap, list(outputs))


def _fuse_slices(nodes, outputs):
    """Non-overlapping slices of one tensor along one axis -> one split_with_sizes."""
    groups = {}
    for node in nodes:
        found = _slice_range(node)
        if found is not None:
            source, dim, start, stop = found
            groups.setdefault((id(source), dim), []).append((start, stop, node))
    replace, mapping = {}, {}
    for (_, dim), members in groups.items():
        ranges = sorted({(start, stop) for start, stop, _ in members})
        if len(members) < 2 or any(a[1] > b[0] for a, b in zip(ranges, ranges[1:])):
            continue
        first = members[0][2]  # in call order
        source = first.args[0]
        size = source.tensor.shape[dim]
        bounds = sorted({0, size, *(s for r in ranges for s in r)})
        pieces = list(zip(bounds, bounds[1:]))
        sizes = [stop - start for start, stop in pieces]
        parts = torch.split(source.tensor.detach(), sizes, dim)
        out_values = [_Value(f"{first.outs[0].name}s{j}", p) for j, p in enumerate(parts)]
        replace[id(first)] = _Node(
            aten.split_with_sizes.default, (source, sizes, dim), {}, out_values, True
        )
        for start, stop, node in members:
            mapping[id(node.outs[0])] = out_values[pieces.index((start, stop))]
            if node is not first:
                replace[id(node)] = None
    nodes = [replace.get(id(n), n) for n in nodes]
    nodes = [n for n in nodes if n is not None]
    _substitute(nodes, outputs, mapping)
    return nodes


def _fuse_addmm(nodes, outputs):
    """`mm(a, b) + bias`, the product used nowhere else -> `addmm(bias, a, b)`."""
    uses = _uses(nodes, outputs)
    producer = {id(n.outs[0]): n for n in nodes if n.func is aten.mm.default}
    dropped = set()
    for node in nodes:
        if node.func is not aten.add.Tensor or node.kwargs or len(node.args) != 2:
            continue
        for product, bias in (node.args, node.args[::-1]):
            mm = producer.get(id(product)) if isinstance(product, _Value) else None
            if (
                mm is None
                or uses.get(id(product)) != 1
                or not isinstance(bias, _Value)
                or bias.tensor.dim() != 1
                or bias.tensor.dtype != product.tensor.dtype
                or bias.tensor.shape[0] != product.tensor.shape[1]
            ):
                continue
            node.func, node.args = aten.addmm.default, (bias, *mm.args)
            dropped.add(id(mm))
            break
    return [n for n in nodes if id(n) not in dropped]


def _drop_unused(nodes, outputs):
    """Removes calls none of whose outputs is used and that mutate nothing.

    Autograd's own calls show up in the recording (the `detach` of a result it
    saves for the backward pass); the replayed calls make autograd issue them again.
    """
    uses = _uses([], outputs)
    kept = []
    for node in reversed(nodes):
        schema = getattr(node.func, "_schema", None)
        mutates = schema is None or schema.is_mutable
        if mutates or any(uses.get(id(v)) for v in node.outs):
            kept.append(node)
            for count_id, n in _uses([node], ()).items():
                uses[count_id] = uses.get(count_id, 0) + n
    return kept[::-1]


def _codegen(nodes, input_count, outputs):
    namespace = {}

    def expr(a):
        if isinstance(a, _Value):
            if a.name.startswith("k"):
                namespace[a.name] = a.tensor
            return a.name
        if isinstance(a, (list, tuple)):
            inner = ", ".join(expr(v) for v in a)
            return f"[{inner}]" if isinstance(a, list) else f"({inner}{',' if len(a) == 1 else ''})"
        if a is None or type(a) in (bool, int, str):
            return repr(a)
        name = f"c{len(namespace)}"
        namespace[name] = a
        return name

    lines = []
    for n, node in enumerate(nodes):
        op = f"f{n}"
        # The OpOverload's C++ callable: what OpOverload.__call__ would call.
        namespace[op] = getattr(node.func, "_op", node.func)
        call = ", ".join(
            [expr(a) for a in node.args] + [f"{k}={expr(v)}" for k, v in node.kwargs.items()]
        )
        # An output that is a constant (a call that returns its argument) is not
        # rebound: `k0 = f(k0)` would make `k0` local to the generated function.
        names = [("_" if v.name.startswith("k") else v.name) for v in node.outs]
        if node.tuple_out:
            lines.append(f"    {''.join(n + ', ' for n in names)}= {op}({call})  # {node.func}")
        else:
            lines.append(f"    {names[0]} = {op}({call})  # {node.func}")
    inputs = ", ".join(f"i{i}" for i in range(input_count))
    body = "\n".join(lines) or "    pass"
    source = f"def step({inputs}):\n{body}\n    return [{', '.join(expr(v) for v in outputs)}]\n"
    exec(compile(source, "<keras_gradstab scan step>", "exec"), namespace)
    return namespace["step"], source


class StepProgram:
    """A recorded step: `program(*carry_leaves, *x_leaves)` -> carry leaves + y leaves.

    A `None` y has no leaves.
    """

    def __init__(self, step, source):
        self.step = step
        self.source = source

    def __call__(self, *leaves):
        return self.step(*leaves)

    def agrees(self, leaves, expected):
        """Whether the replay of `leaves` gives `expected` (what `fn` gave for them).

        The scan checks its second step this way. A step whose values leave torch
        (a NumPy computation on the carry, converted back) records as a constant;
        the check sees the replay disagree with `fn` and the scan goes on calling
        `fn`. The rewrites only reorder float rounding, hence the tolerance. NaN and
        inf agree with NaN and inf at the same places (a step fed NaN replays as one
        fed numbers), and the tolerance's scale is that of the finite values.
        """
        with torch.no_grad():
            got = self.step(*leaves)
            if len(got) != len(expected):
                return False
            for a, b in zip(got, expected):
                if a.shape != b.shape or a.dtype != b.dtype:
                    return False
                if a.is_floating_point() or a.is_complex():
                    magnitude = b.abs().nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)
                    scale = float(magnitude.max()) if b.numel() else 0.0
                    if not torch.allclose(
                        a, b, rtol=1e-4, atol=1e-6 * max(scale, 1.0), equal_nan=True
                    ):
                        return False
                elif not torch.equal(a, b):
                    return False
        return True

    @classmethod
    def record(cls, fn, carry, x):
        """Runs `fn(carry, x)`, which returns a pair `(carry, y)`, and records it.

        Returns:
            `(result, program)`: what `fn` returned, and the `StepProgram` that
            maps the flattened `(carry, x)` leaves to the flattened result leaves,
            or `None` where the step cannot be replayed (see the module docstring).
        """
        input_leaves, spec = pytree.tree_flatten((carry, x))
        # One tensor passed as two inputs (an LSTM's `(zeros, zeros)` carry) would
        # leave the recording unable to tell which of them the step read: each
        # repeat gets an alias of its own (a view, so gradients still reach it).
        seen = set()
        for i, t in enumerate(input_leaves):
            if id(t) in seen:
                input_leaves[i] = t.view_as(t)
            seen.add(id(input_leaves[i]))
        carry, x = pytree.tree_unflatten(input_leaves, spec)
        recorder = _Recorder()
        with recorder:
            result = fn(carry, x)
        carry_out, y = result
        # A `None` y has no leaves (what the scan stacks is the carry's and y's tensors).
        output_leaves = pytree.tree_leaves(carry_out) + ([] if y is None else pytree.tree_leaves(y))
        if not recorder.faithful or not all(isinstance(t, torch.Tensor) for t in output_leaves):
            return result, None
        nodes, values = _to_graph(recorder.calls, input_leaves)
        if nodes is None:
            return result, None
        # An output made outside the recorded calls is a constant of the step.
        outputs = [values.get(id(t)) or _Value(f"k_out{i}", t) for i, t in enumerate(output_leaves)]
        nodes = _drop_unused(_fuse_addmm(_fuse_slices(nodes, outputs), outputs), outputs)
        step, source = _codegen(nodes, len(input_leaves), outputs)
        return result, cls(step, source)
