"""quantization_summary: bits, memory, MACs and compression per layer (as Larq's summary)."""

import numpy as np


def _precision(quantizer):
    if quantizer is None:
        return 32
    return int(getattr(quantizer, "precision", 32))


def _count(shape):
    return int(np.prod([int(n) for n in shape])) if shape is not None else 0


def _macs(layer):
    """Multiply-accumulates per example, from the kernel and the output shape."""
    kernel = getattr(layer, "kernel", None)
    if kernel is None or not getattr(layer, "built", False):
        return 0
    try:
        output_shape = layer.output.shape
    except (AttributeError, ValueError):
        return 0
    kernel_shape = tuple(kernel.shape)
    if len(kernel_shape) == 2:  # Dense: one input_dim x units product per position
        return _count(output_shape[1:-1]) * kernel_shape[0] * kernel_shape[1]
    # Convolutions: every output value sums kernel-window x input-channels products;
    # the kernel's size is exactly window x (input channels / groups) x outputs
    # per output position (a depthwise kernel's last axes are channels x multiplier).
    data_format = getattr(layer, "data_format", "channels_last")
    spatial = output_shape[1:-1] if data_format == "channels_last" else output_shape[2:]
    return _count(spatial) * _count(kernel_shape)


def quantization_summary(model, print_fn=print):
    """Per-layer bit widths, parameter memory, MACs and compression ratio.

    For every layer with weights: the input and kernel bit widths (the
    `precision` of its quantizers; 32 for full precision), the number of kernel
    and other parameters, the memory they take when kernels are stored at their bit
    width and everything else in float32, the multiply-accumulates per example
    split into binary (1-bit input and kernel) and other, and the compression ratio
    against a float32 model. The last row holds the totals.

    Args:
        model: a built functional or Sequential model (output shapes known).
        print_fn: called with the formatted table; `None` prints nothing.

    Returns:
        A list of dicts, one per layer and a final `"total"` row, with keys
        `layer`, `input_bits`, `kernel_bits`, `kernel_params`, `other_params`,
        `memory_bytes`, `float32_bytes`, `compression`, `binary_macs`, `macs`.

    Example:

    >>> import keras
    >>> from keras_gradstab.diagnostics import quantization_summary
    >>> from keras_gradstab.layers import QuantDense
    >>> model = keras.Sequential([keras.Input((64,)), QuantDense(
    ...     32, input_quantizer="ste_sign", kernel_quantizer="ste_sign", use_bias=False)])
    >>> row = quantization_summary(model, print_fn=None)[0]
    >>> row["memory_bytes"], row["float32_bytes"], row["binary_macs"]
    (256, 8192, 2048)
    """
    rows = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        own = [
            v
            for v in layer.weights
            if not any(
                v is w for sub in layer._flatten_layers(include_self=False) for w in sub.weights
            )
        ]
        if not own:
            continue
        kernel = getattr(layer, "kernel", None)
        kernel_params = _count(kernel.shape) if kernel is not None else 0
        other_params = sum(_count(v.shape) for v in own) - kernel_params
        input_bits = _precision(getattr(layer, "input_quantizer", None))
        kernel_bits = _precision(getattr(layer, "kernel_quantizer", None))
        memory_bits = kernel_params * kernel_bits + other_params * 32
        macs = _macs(layer)
        binary = macs if (input_bits == 1 and kernel_bits == 1) else 0
        rows.append(
            {
                "layer": layer.name,
                "input_bits": input_bits,
                "kernel_bits": kernel_bits,
                "kernel_params": kernel_params,
                "other_params": other_params,
                "memory_bytes": int(np.ceil(memory_bits / 8)),
                "float32_bytes": 4 * (kernel_params + other_params),
                "binary_macs": binary,
                "macs": macs,
            }
        )
    total = {
        "layer": "total",
        "input_bits": None,
        "kernel_bits": None,
        **{
            key: sum(r[key] for r in rows)
            for key in (
                "kernel_params",
                "other_params",
                "memory_bytes",
                "float32_bytes",
                "binary_macs",
                "macs",
            )
        },
    }
    rows.append(total)
    for row in rows:
        row["compression"] = (
            row["float32_bytes"] / row["memory_bytes"] if row["memory_bytes"] else 1.0
        )
    if print_fn is not None:
        header = [
            "layer",
            "input_bits",
            "kernel_bits",
            "kernel_params",
            "other_params",
            "memory_bytes",
            "compression",
            "binary_macs",
            "macs",
        ]
        lines = [" | ".join(header)]
        for row in rows:
            cells = [
                f"{row[k]:.2f}x"
                if k == "compression"
                else str(row[k] if row[k] is not None else "")
                for k in header
            ]
            lines.append(" | ".join(cells))
        print_fn("\n".join(lines))
    return rows
