"""Export of binarized models: 1-bit packed kernels plus scales, and loading them back."""

import keras
import numpy as np

from keras_gradstab.quantizers.reste import ReSTE
from keras_gradstab.quantizers.sign import ApproxSign, SteSign, SwishSign

# Quantizers whose output is sign(w) (sign(0) = +1): one bit per weight suffices.
SIGN_QUANTIZERS = (ReSTE, SteSign, ApproxSign, SwishSign)


def _binarized_layers(model):
    for layer in model._flatten_layers(include_self=False, recursive=True):
        quantizer = getattr(layer, "kernel_quantizer", None)
        if isinstance(quantizer, SIGN_QUANTIZERS) and hasattr(layer, "quantized_kernel"):
            yield layer


def _prefix(index, layer):
    # Keyed by position, as Keras keys saved weights: layer names change per session.
    return f"binary/{index}_{type(layer).__name__}"


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def pack_binary_weights(model, path=None):
    """Packs the sign-binarized kernels of `model` into bits, keeping everything else.

    A layer of `keras_gradstab.layers` whose kernel quantizer outputs sign(w)
    (`ReSTE`, `SteSign`, `ApproxSign`, `SwishSign`) is stored as its kernel's
    sign bits (`numpy.packbits`, 1 = +1, sign(0) = +1), the kernel shape and, if
    the layer has a `kernel_scale`, its float32 mean(|W|) values; 1 bit per
    weight instead of 32. Every other variable (full-precision layers, biases,
    batch-norm statistics, ReSTE's `o`) is stored as is. Entries are keyed by
    position (as Keras keys saved weights), so they load into any model of the same
    architecture.

    Args:
        model: a built Keras model.
        path: optional file name; the arrays are written there with
            `numpy.savez_compressed` (add `.npz`).

    Returns:
        A dict of NumPy arrays: `"binary/<i>_<layer class>/bits"`, `".../shape"`,
        `".../scale"` (when the layer scales) for the i-th binarized layer, and
        `"float/<j>"` for the j-th other variable of `model.variables`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.layers import QuantDense
    >>> from keras_gradstab.quantizers import load_packed_weights, pack_binary_weights
    >>> def build():
    ...     return keras.Sequential([keras.Input((64,)),
    ...                              QuantDense(32, kernel_quantizer="ste_sign")])
    >>> model, copy = build(), build()
    >>> packed = pack_binary_weights(model)
    >>> packed["binary/0_QuantDense/bits"].nbytes  # 64 * 32 / 8
    256
    >>> load_packed_weights(copy, packed)
    >>> x = np.ones((2, 64), "float32")
    >>> bool(np.array_equal(model.predict(x, verbose=0), copy.predict(x, verbose=0)))
    True
    """
    packed = {}
    binarized_kernels = set()
    for index, layer in enumerate(_binarized_layers(model)):
        kernel = layer._latent_kernel()
        binarized_kernels.add(id(kernel))
        values = _numpy(kernel)
        prefix = _prefix(index, layer)
        packed[f"{prefix}/bits"] = np.packbits((values >= 0).reshape(-1))
        packed[f"{prefix}/shape"] = np.asarray(values.shape, "int64")
        if layer.kernel_scale is not None:
            packed[f"{prefix}/scale"] = _numpy(layer.kernel_scale_value()).astype("float32")
    for index, variable in enumerate(model.variables):
        if id(variable) not in binarized_kernels:
            packed[f"float/{index}"] = _numpy(variable)
    if path is not None:
        np.savez_compressed(path, **packed)
    return packed


def _exact_sum_magnitudes(total, shape, scale_shape):
    """Positive float32 magnitudes of `shape` whose sums over the reduced axes are `total`.

    `total` (keepdims, shape `scale_shape`) is split into n near-equal integer
    multiples of u = ulp(total): every partial sum is then an integer multiple of
    u below 2^24 u, exactly representable, so any backend sums them to `total`
    exactly, in whatever order or tree it reduces.
    """
    total = total.astype("float32")
    positions = [n if k == 1 else 1 for n, k in zip(shape, scale_shape)]
    count = int(np.prod(positions))
    unit = np.spacing(total).astype("float64")
    units = np.rint(total.astype("float64") / unit)
    base, extra = np.floor_divide(units, count), np.mod(units, count)
    position = np.arange(count).reshape(positions)
    return ((base + (position < extra)) * unit).astype("float32")


def _latent_magnitude(layer, signs, scale):
    """Latent magnitudes whose recomputed mean(|W|) equals `scale` bit for bit.

    Equal magnitudes do not always work: the mean of n copies of a float32 `s` is
    a rounded sum divided by n, and on some backends (torch) that map skips
    values, so no `s` gives back the stored mean. But the stored mean was itself
    some float sum S divided by n. So the sum is chosen instead: for S = n *
    scale and its neighbours (a few ulps either side, nearest first), the kernel
    gets magnitudes that sum to S exactly on any backend
    (`_exact_sum_magnitudes`), and the first S for which the layer's own
    computation returns `scale` is kept, per channel.
    """
    target = scale.astype("float32")
    count = signs.size // target.size
    nearest = (target.astype("float64") * count).astype("float32")
    magnitudes = np.broadcast_to(target, signs.shape).astype("float32")
    done = np.zeros(target.shape, bool)
    for step in (0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8, -8):
        total = nearest
        for _ in range(abs(step)):
            total = np.nextafter(total, np.float32(np.inf if step > 0 else -np.inf))
        positive = total > 0  # a zero mean keeps its zero magnitudes
        candidate = _exact_sum_magnitudes(
            np.where(positive, total, np.float32(1)), signs.shape, target.shape
        )
        got = _numpy(layer.kernel_scale_value(signs * candidate)).astype("float32")
        hit = (got == target) & positive & ~done
        magnitudes = np.where(np.broadcast_to(hit, signs.shape), candidate, magnitudes)
        done |= hit
        if done.all():
            break
    return magnitudes


def load_packed_weights(model, packed):
    """Loads what `pack_binary_weights` wrote into an equal (same-architecture) model.

    Each binarized kernel becomes `sign * scale` (`sign` without a scale), which
    the layer quantizes back to the same effective kernel; every other variable
    is assigned its stored value.

    Args:
        model: a built model with the architecture of the packed one.
        packed: the dict returned by `pack_binary_weights`, or the `.npz` path.

    Raises:
        ValueError: a binarized kernel of `model` has no packed entry of its shape.

    Example:

    >>> import os, tempfile
    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.layers import QuantConv1D
    >>> from keras_gradstab.quantizers import load_packed_weights, pack_binary_weights
    >>> conv = keras.Sequential([keras.Input((6, 2)), QuantConv1D(3, 3, kernel_quantizer="ste_sign")])
    >>> path = os.path.join(tempfile.mkdtemp(), "packed.npz")
    >>> _ = pack_binary_weights(conv, path)
    >>> copy = keras.models.clone_model(conv)
    >>> load_packed_weights(copy, path)
    >>> signs = [keras.ops.convert_to_numpy(m.layers[0].quantized_kernel()) for m in (conv, copy)]
    >>> bool(np.array_equal(*signs))
    True
    """
    if isinstance(packed, str):
        with np.load(packed) as data:
            packed = {key: data[key] for key in data.files}
    for index, layer in enumerate(_binarized_layers(model)):
        prefix = _prefix(index, layer)
        expected = tuple(layer._latent_kernel().shape)
        shape = tuple(int(n) for n in packed.get(f"{prefix}/shape", ()))
        if shape != expected:
            raise ValueError(
                f"`packed` holds no binarized kernel of shape {expected} for layer "
                f"{layer.path!r} (binarized layer {index}): it was packed from a "
                "different architecture."
            )
        count = int(np.prod(shape))
        bits = np.unpackbits(packed[f"{prefix}/bits"])[:count]
        signs = np.where(bits == 1, 1.0, -1.0).astype("float32").reshape(shape)
        scale = packed.get(f"{prefix}/scale")
        kernel = signs if scale is None else signs * _latent_magnitude(layer, signs, scale)
        layer._latent_kernel().assign(kernel)
    for index, variable in enumerate(model.variables):
        key = f"float/{index}"
        if key in packed:
            variable.assign(packed[key])
