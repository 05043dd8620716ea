"""Records the matrix products TensorFlow runs and flags the broadcasting ones.

TensorFlow's oneDNN batch-matmul kernel returns wrong values and corrupts the heap
on some x86 CPUs when the operands' batch axes broadcast (for example a
`[2, 1, m, k]` operand times a `[k, n]` one); see `keras_gradstab.ops.matmul`.
`record_products()` installs a TensorFlow op callback (it sees eager ops and ops
added to a graph while a function is traced) and collects every `BatchMatMul*`
and ellipsis `Einsum` whose operands' batch shapes differ and that the library's
own code asks for (directly or through `keras.ops`), with that line.
"""

import contextlib
import os
import traceback

import keras_gradstab

_PRODUCTS = ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum")
_PACKAGE = os.path.dirname(os.path.abspath(keras_gradstab.__file__))


def _dims(shape):
    """A shape (`tf.TensorShape` or a tuple) as a list, None where the rank is unknown."""
    if hasattr(shape, "as_list"):
        return None if shape.rank is None else list(shape.as_list())
    return list(shape)


def _batch_shapes_differ(a, b):
    """Whether batch shapes `a` and `b` (lists, None for unknown) broadcast."""
    if a is None or b is None:
        return False
    if len(a) != len(b):
        return True
    return any(x is not None and y is not None and x != y for x, y in zip(a, b))


def broadcasting_product(op_type, shapes, attrs=None):
    """A description of the product if its operands' batch axes broadcast, else None.

    `shapes` are the operands' shapes (`tf.TensorShape`s or tuples, None for an
    unknown size); `attrs` the op's attributes
    (for `Einsum`, its `equation`).
    """
    if op_type in _PRODUCTS[:3]:
        a, b = (_dims(s) for s in shapes[:2])
        if a is None or b is None:
            return None
        if _batch_shapes_differ(a[:-2], b[:-2]):
            return f"{op_type} {a} x {b}"
        return None
    if op_type == "Einsum":
        equation = attrs.get("equation", "") if attrs else ""
        if "..." not in equation:
            return None
        operands = equation.split("->")[0].split(",")
        batches = []
        for term, shape in zip(operands, shapes):
            dims = _dims(shape)
            if dims is None:
                return None
            explicit = len(term.replace("...", ""))
            batches.append(dims[: len(dims) - explicit] if "..." in term else [])
        if any(_batch_shapes_differ(batches[0], other) for other in batches[1:]):
            return f"Einsum {equation!r} {[_dims(s) for s in shapes]}"
    return None


# Frames of the machinery between a caller and the op it asked for.
_PLUMBING = (
    os.sep + "tensorflow" + os.sep,
    os.path.join("keras", "src", "ops") + os.sep,
    os.path.join("keras", "src", "backend") + os.sep,
    os.path.join("keras", "src", "utils") + os.sep,
    os.sep + "autograph" + os.sep,
)


def _site(roots):
    """`path:line` of the code that asked for the op, if it lies under `roots`.

    The first frame from the innermost outwards that is not TensorFlow's or
    Keras's op plumbing made the product: a product of `keras.layers.Dense`
    inside a model that library code predicts with is Keras's, not the library's.
    """
    for frame in reversed(traceback.extract_stack()[:-3]):
        path = os.path.abspath(frame.filename)
        if any(part in path for part in _PLUMBING):
            continue
        for root in roots:
            if path.startswith(root):
                return f"{os.path.relpath(path, os.path.dirname(root))}:{frame.lineno}"
        return None
    return None


@contextlib.contextmanager
def record_products(roots=(_PACKAGE,)):
    """Yields a list that fills with `(description, site)` of broadcasting products
    made by code under the directories `roots` (the library's, by default)."""
    from tensorflow.python.framework import op_callbacks

    found = []

    def callback(op_type, inputs, attrs, outputs, op_name=None, graph=None):
        op_type = op_type.decode() if isinstance(op_type, bytes) else op_type
        if op_type not in _PRODUCTS:
            return None
        if op_type == "Einsum":
            # Eager ops and traced ops both pass their attributes as a flat
            # (name, value, ...) tuple; a traced op's value may be an AttrValue.
            values = dict(zip(attrs[::2], attrs[1::2])) if attrs else {}
            equation = values.get("equation", "")
            equation = getattr(equation, "s", equation)
            if isinstance(equation, bytes):
                equation = equation.decode()
            attrs = {"equation": equation}
        problem = broadcasting_product(op_type, [i.shape for i in inputs], attrs)
        site = _site(roots) if problem else None
        if site:
            found.append((problem, site))
        return None

    op_callbacks.add_op_callback(callback)
    try:
        yield found
    finally:
        op_callbacks.remove_op_callback(callback)
