"""CUDA graphs for the fused torch recurrences: record a recurrence once per shape, replay it.

On a GPU the fused loops of `recurrence.py` are bound by kernel launches: every
time step issues a handful of small kernels, each costing more to launch than
to run. A CUDA graph records the kernels of one whole call (the forward loop,
and the backward loop through time when gradients are needed) and replays them
with one launch.

`dispatch(fn, args, graphable)` is the entry the fused recurrences call. CPU
tensors go straight to `fn`. For CUDA tensors, `CACHE` (a `GraphCache`) keys
each call by the recurrence, the shape, dtype, device and `requires_grad` of
every tensor argument, the presence of the optional ones (`None`), the values
of the Python arguments and whether gradients are needed. The first call of a
key runs eagerly (it also warms up cuBLAS and the allocator); the second
records the graphs and replays them, and so does every later call. Graph
capture needs static shapes, no host synchronization and inputs at fixed
addresses, so each recorded key owns static input buffers: a call copies its
tensors in, replays, and returns copies of the static outputs.

Gradients: a recorded call with grad needed returns outputs that an
autograd Function ties to the caller's tensors. Its backward pass copies the
incoming gradients into static buffers and replays the recorded backward
graph, which reads what the recorded forward pass left in the key's memory
pool. When the same key was replayed again before that backward pass (two
layers of one shape, say), that memory holds the later call: the backward pass
then recomputes the recurrence eagerly from the saved inputs instead (counted
as `"backward_eager"`). Values and gradients are those of `fn` either way.
For that fallback a recorded call keeps its tensor arguments (the input
projection among them) until its backward pass.

Not recorded (run eagerly, counted as `"eager"`): a call whose `graphable` is
False (the SBO-RNN momentum updates read `mu` on the host), a call made while a
stream is being captured or under autocast, a Python argument that cannot be
hashed, and a key whose recording failed (counted once as
`"capture_failures"`). The cache is opt-in: it records only where
`KERAS_GRADSTAB_CUDA_GRAPHS` is set to a value other than `"0"` (read at each
call); unset or `"0"`, every call runs the eager loop. The cache holds at most `max_entries` keys (least
recently used first out, counted as `"evictions"`); each key keeps its graphs'
memory pool.

`COUNTS` (a `collections.Counter`) counts `"captures"`, `"replays"`,
`"eager"`, `"backward_replays"`, `"backward_eager"`, `"capture_failures"` and
`"evictions"` over every cache.

The recording itself is a `recorder` object (`CudaRecorder` on a GPU) with one
method, `record(bodies) -> replays`: it receives argument-free functions that
work on the static buffers, and returns one function per body that re-runs it.
`EagerRecorder` re-runs the bodies in Python; with it (and an `eligible`
predicate that accepts CPU tensors) the keying, buffering, generation and
fallback logic runs on a CPU.
"""

import collections
import contextlib
import os

import torch
from torch.autograd.function import once_differentiable
from torch.utils import _pytree as pytree

ENV_VAR = "KERAS_GRADSTAB_CUDA_GRAPHS"
COUNTS = collections.Counter()


def enabled():
    """Whether `KERAS_GRADSTAB_CUDA_GRAPHS` turns the graph cache on (set, and not "0")."""
    return os.environ.get(ENV_VAR, "0") != "0"


class CudaRecorder:
    """Records bodies into `torch.cuda.CUDAGraph`s that share one memory pool.

    The bodies run `warmup` times on a side stream first (lazy initialization,
    such as the cuBLAS handle and workspace of a stream, must not happen during
    capture), then each is captured in order into its own graph on that same
    stream.

    Args:
        warmup: how many times the bodies run before capture. Defaults to 2.
    """

    def __init__(self, warmup=2):
        if int(warmup) < 1:
            raise ValueError(f"`warmup` must be an integer >= 1; received {warmup!r}.")
        self.warmup = int(warmup)

    def record(self, bodies):
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(self.warmup):
                for body in bodies:
                    body()
        torch.cuda.current_stream().wait_stream(stream)
        pool = torch.cuda.graph_pool_handle()
        graphs = []
        for body in bodies:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool, stream=stream):
                body()
            graphs.append(graph)
        return [graph.replay for graph in graphs]


class EagerRecorder:
    """A stand-in recorder: each "replay" runs its body again in Python.

    It drives `GraphCache`'s logic on any device; `records` counts its
    `record` calls.
    """

    def __init__(self):
        self.records = 0

    def record(self, bodies):
        self.records += 1
        return list(bodies)


def _on_cuda(tensor):
    return isinstance(tensor, torch.Tensor) and tensor.is_cuda


def _signature(leaf, needs_grad):
    if isinstance(leaf, torch.Tensor):
        return (
            "tensor",
            tuple(leaf.shape),
            leaf.dtype,
            leaf.device,
            needs_grad and leaf.requires_grad,
        )
    return ("value", type(leaf), leaf)


class _Entry:
    """The static buffers and recorded graphs of one key."""

    def __init__(self, fn, leaves, spec, needs_grad, recorder):
        self.fn, self.spec, self.needs_grad = fn, spec, needs_grad
        self.positions = [i for i, leaf in enumerate(leaves) if isinstance(leaf, torch.Tensor)]
        self.leaves = list(leaves)
        self.static = []
        for i in self.positions:
            buffer = torch.empty_like(leaves[i])
            if needs_grad and leaves[i].requires_grad:
                buffer.requires_grad_(True)
            self.static.append(buffer)
            self.leaves[i] = buffer
        # The tensor arguments (by index among them) that get gradients.
        self.grad_inputs = [k for k, s in enumerate(self.static) if s.requires_grad]
        self.outputs, self.out_spec, self.grad_outputs, self.grads = None, None, None, None
        self.generation = 0
        self._copy_in([leaves[i] for i in self.positions])
        bodies = [self._forward_body] + ([self._backward_body] if needs_grad else [])
        self.replays = recorder.record(bodies)

    def _call(self, leaves):
        return self.fn(*pytree.tree_unflatten(leaves, self.spec))

    def _forward_body(self):
        with torch.enable_grad() if self.needs_grad else torch.no_grad():
            outputs = self._call(self.leaves)
        self.outputs, self.out_spec = pytree.tree_flatten(outputs)

    def _grad_buffers(self):
        if self.grad_outputs is None:
            self.grad_outputs = [torch.zeros_like(o) for o in self.outputs]

    def _backward_body(self):
        self._grad_buffers()
        pairs = [(o, g) for o, g in zip(self.outputs, self.grad_outputs) if o.requires_grad]
        self.grads = torch.autograd.grad(
            [o for o, _ in pairs],
            [self.static[k] for k in self.grad_inputs],
            [g for _, g in pairs],
            # The forward pass's saved tensors stay with the recording: every
            # replay of the backward graph reads them.
            retain_graph=True,
            allow_unused=True,
        )

    def _copy_in(self, tensors):
        with torch.no_grad():
            for buffer, tensor in zip(self.static, tensors):
                buffer.copy_(tensor)

    def forward(self, tensors):
        """Replays the forward graph on `tensors`; returns copies of the outputs (flat)."""
        self._copy_in(tensors)
        self.replays[0]()
        self.generation += 1
        return [o.detach().clone() for o in self.outputs]

    def backward(self, grads):
        """Replays the backward graph; returns one gradient (or None) per tensor argument."""
        self._grad_buffers()
        with torch.no_grad():
            for buffer, grad in zip(self.grad_outputs, grads):
                buffer.copy_(grad)
        self.replays[1]()
        return self._per_tensor([None if g is None else g.clone() for g in self.grads])

    def eager_backward(self, tensors, grads):
        """The gradients of `fn` recomputed eagerly from the call's own inputs."""
        inputs = [t.detach() for t in tensors]
        for k in self.grad_inputs:
            inputs[k].requires_grad_(True)
        leaves = list(self.leaves)
        for i, tensor in zip(self.positions, inputs):
            leaves[i] = tensor
        with torch.enable_grad():
            outputs = pytree.tree_leaves(self._call(leaves))
        pairs = [(o, g) for o, g in zip(outputs, grads) if o.requires_grad]
        found = torch.autograd.grad(
            [o for o, _ in pairs],
            [inputs[k] for k in self.grad_inputs],
            [g for _, g in pairs],
            allow_unused=True,
        )
        return self._per_tensor(found)

    def _per_tensor(self, found):
        out = [None] * len(self.static)
        for k, grad in zip(self.grad_inputs, found):
            out[k] = grad
        return out


class _Replay(torch.autograd.Function):
    @staticmethod
    def forward(ctx, entry, *tensors):
        outputs = entry.forward(tensors)
        ctx.entry, ctx.generation = entry, entry.generation
        ctx.save_for_backward(*tensors)
        return tuple(outputs)

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads):
        entry = ctx.entry
        if entry.generation == ctx.generation:
            COUNTS["backward_replays"] += 1
            found = entry.backward(grads)
        else:
            COUNTS["backward_eager"] += 1
            found = entry.eager_backward(ctx.saved_tensors, grads)
        return (None,) + tuple(found)


class GraphCache:
    """Records a function's calls into graphs per key and replays them.

    Args:
        recorder: an object with `record(bodies) -> replays` (`CudaRecorder()`
            records CUDA graphs; `EagerRecorder()` re-runs the bodies).
        eligible: a predicate on a call's first argument; calls it rejects go
            straight to the function, untouched and uncounted. Defaults to
            "a CUDA tensor".
        capture_after: how many calls of a key run eagerly before the key is
            recorded. Defaults to 1.
        max_entries: how many keys are kept (least recently used first out).
            Defaults to 32.

    Example:

    >>> import torch
    >>> from keras_gradstab.backend.torch.cuda_graphs import EagerRecorder, GraphCache
    >>> cache = GraphCache(EagerRecorder(), eligible=lambda x: True)
    >>> f = lambda x, scale: (x * scale,)
    >>> [float(cache.call(f, (torch.ones(2), 3.0))[0][0]) for _ in range(3)]
    [3.0, 3.0, 3.0]
    >>> cache.recorder.records  # the second call recorded, the third replayed
    1
    """

    def __init__(self, recorder, eligible=_on_cuda, capture_after=1, max_entries=32):
        if int(capture_after) < 0:
            raise ValueError(
                f"`capture_after` must be an integer >= 0; received {capture_after!r}."
            )
        if int(max_entries) < 1:
            raise ValueError(f"`max_entries` must be an integer >= 1; received {max_entries!r}.")
        self.recorder, self.eligible = recorder, eligible
        self.capture_after, self.max_entries = int(capture_after), int(max_entries)
        self.entries = collections.OrderedDict()
        self.seen = collections.Counter()
        self.failed = set()

    def clear(self):
        """Drops every recorded key (and with them their graphs and buffers)."""
        self.entries.clear()
        self.seen.clear()
        self.failed.clear()

    def _key(self, fn, leaves, spec, needs_grad):
        key = (fn, spec, needs_grad) + tuple(_signature(leaf, needs_grad) for leaf in leaves)
        hash(key)  # a TypeError for an argument that cannot key a recording
        return key

    def call(self, fn, args, graphable=True):
        """`fn(*args)`, replayed from a recording where the key has one."""
        if not (args and self.eligible(args[0])):
            return fn(*args)
        if not enabled():
            return fn(*args)
        leaves, spec = pytree.tree_flatten(tuple(args))
        tensors = [leaf for leaf in leaves if isinstance(leaf, torch.Tensor)]
        needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
        try:
            key = self._key(fn, leaves, spec, needs_grad)
        except TypeError:
            key = None
        if (
            key is None
            or not graphable
            or key in self.failed
            or (torch.cuda.is_available() and torch.cuda.is_current_stream_capturing())
            or torch.is_autocast_enabled(tensors[0].device.type)
        ):
            COUNTS["eager"] += 1
            return fn(*args)
        device = tensors[0].device
        # Record and replay on the device of the tensors (not the current one).
        with torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext():
            return self._replay(fn, args, key, leaves, spec, tensors, needs_grad)

    def _replay(self, fn, args, key, leaves, spec, tensors, needs_grad):
        entry = self.entries.get(key)
        if entry is None:
            self.seen[key] += 1
            if self.seen[key] <= self.capture_after:
                COUNTS["eager"] += 1
                return fn(*args)
            try:
                entry = _Entry(fn, leaves, spec, needs_grad, self.recorder)
            except Exception:  # noqa: BLE001 - any failed recording falls back to eager
                self.failed.add(key)
                COUNTS["capture_failures"] += 1
                COUNTS["eager"] += 1
                return fn(*args)
            COUNTS["captures"] += 1
            self.entries[key] = entry
            while len(self.entries) > self.max_entries:
                old, _ = self.entries.popitem(last=False)
                self.seen.pop(old, None)
                COUNTS["evictions"] += 1
        self.entries.move_to_end(key)
        COUNTS["replays"] += 1
        if needs_grad:
            outputs = _Replay.apply(entry, *tensors)
        else:
            with torch.no_grad():
                outputs = entry.forward(tensors)
        return pytree.tree_unflatten(list(outputs), entry.out_spec)


CACHE = GraphCache(CudaRecorder())


def dispatch(fn, args, graphable=True):
    """`fn(*args)` through `CACHE` (`args[0]` a tensor; CPU tensors go straight to `fn`)."""
    if not CACHE.eligible(args[0]):
        return fn(*args)
    return CACHE.call(fn, args, graphable)


@contextlib.contextmanager
def counting():
    """Yields a `Counter` that holds the change of `COUNTS` inside the block when it ends."""
    before = COUNTS.copy()
    change = collections.Counter()
    try:
        yield change
    finally:
        change.update(COUNTS)
        change.subtract(before)
        for name in [n for n, v in change.items() if v == 0]:
            del change[name]
