"""Layers whose weights must load across backends: add one `case(...)` line per layer.

Each case is a model `Sequential([Input(input_shape[1:]), Layer(**kwargs)])`. The
pytest process of each backend builds it, saves its weights and outputs, and a
subprocess per other installed backend loads the weights and must reproduce the
outputs to 1e-5 (tests/test_cross_backend.py).
"""

CASES = {}


def case(name, layer, kwargs, input_shape, atol=1e-5):
    """Registers `layer` ("module:ClassName") built with `kwargs` for `input_shape`."""
    if name in CASES:
        raise ValueError(f"duplicate cross-backend case name {name!r}")
    CASES[name] = {"layer": layer, "kwargs": kwargs, "input_shape": input_shape, "atol": atol}


# Test layers on ScanRNN (tests/layers_for_tests.py): a ScanCell and a Keras cell.
case("scan_simple_rnn", "layers_for_tests:ScanSimpleRNN", {"units": 5}, (2, 7, 3))
case("scan_gru", "layers_for_tests:ScanGRU", {"units": 4, "return_sequences": True}, (2, 6, 3))
case(
    "scan_simple_rnn_reverse",
    "layers_for_tests:ScanSimpleRNN",
    {"units": 4, "go_backwards": True, "return_sequences": True},
    (2, 6, 3),
)

# Self-normalizing networks and channel normalization.
case(
    "alpha_dropout",
    "keras_gradstab.layers:AlphaDropout",
    {"rate": 0.1, "fixed_point": (-0.1, 2.0)},
    (2, 5),
)
case(
    "feature_alpha_dropout",
    "keras_gradstab.layers:FeatureAlphaDropout",
    {"rate": 0.1},
    (2, 4, 4, 3),
)
case(
    "channel_normalization",
    "keras_gradstab.layers:ChannelNormalization",
    {"gamma_initializer": "random_normal", "beta_initializer": "random_normal"},
    (2, 6, 6, 3),
)
# Orthogonal convolutions (keras_gradstab/layers/orthogonal_conv.py, circular_padding.py).
case(
    "circular_padding_1d", "keras_gradstab.layers:CircularPadding1D", {"padding": (1, 2)}, (2, 5, 3)
)
case("circular_padding_2d", "keras_gradstab.layers:CircularPadding2D", {"padding": 1}, (2, 4, 5, 3))
case(
    "orthogonal_conv_1d",
    "keras_gradstab.layers:OrthogonalConv1D",
    {"filters": 5, "kernel_size": 3, "strides": 2},
    (2, 8, 3),
)
case(
    "orthogonal_conv_2d",
    "keras_gradstab.layers:OrthogonalConv2D",
    {"filters": 6, "kernel_size": 3, "strides": 2},
    (2, 8, 8, 3),
)
# Binarized layers (keras_gradstab.layers.quantized); ReSTE's `o` is a saved weight.
case(
    "quant_dense",
    "keras_gradstab.layers:QuantDense",
    {
        "units": 4,
        "input_quantizer": "ste_sign",
        "kernel_quantizer": "reste",
        "kernel_scale": "per_channel",
    },
    (2, 5),
)
case(
    "quant_conv1d",
    "keras_gradstab.layers:QuantConv1D",
    {
        "filters": 3,
        "kernel_size": 3,
        "padding": "same",
        "pad_values": 1.0,
        "input_quantizer": "ste_sign",
        "kernel_quantizer": "ste_sign",
    },
    (2, 6, 2),
)
case(
    "quant_conv2d",
    "keras_gradstab.layers:QuantConv2D",
    {
        "filters": 3,
        "kernel_size": 3,
        "padding": "same",
        "pad_values": 1.0,
        "input_quantizer": "reste",
        "kernel_quantizer": "reste",
        "kernel_scale": "per_layer",
    },
    (2, 5, 5, 2),
)
case(
    "quant_depthwise_conv2d",
    "keras_gradstab.layers:QuantDepthwiseConv2D",
    {
        "kernel_size": 3,
        "depth_multiplier": 2,
        "input_quantizer": "ste_sign",
        "depthwise_quantizer": "ste_sign",
        "kernel_scale": "per_channel",
    },
    (2, 5, 5, 2),
)
# pLSTM (keras_gradstab/layers/plstm.py).
case("plstm_1d_pd", "keras_gradstab.layers:PLSTM1D", {"num_heads": 2, "mode": "PD"}, (2, 5, 4))
case(
    "plstm_2d_pd",
    "keras_gradstab.layers:PLSTM2D",
    {"num_heads": 2, "mode": "PD", "chunk_size": 2},
    (2, 3, 4, 4),
)
case(
    "plstm_2d_d_recurrent",
    "keras_gradstab.layers:PLSTM2D",
    {"num_heads": 1, "mode": "D", "form": "recurrent", "num_orientations": 2},
    (1, 3, 3, 4),
)
case(
    "plstm_block_2d",
    "keras_gradstab.layers:PLSTMBlock",
    {"num_heads": 2, "mode": "PD", "mlp_ratio": 2},
    (1, 3, 3, 4),
)
case(
    "plstm_vision_classifier",
    "keras_gradstab.layers:PLSTMVisionClassifier",
    {
        "num_classes": 3,
        "position_grid": [2, 2],
        "patch_size": 2,
        "dim": 4,
        "num_heads": 2,
        "block_modes": ["P", "D"],
        "mlp_ratio": 1,
        "form": "recurrent",
    },
    (2, 4, 4, 1),
)
# Orthogonal-Jacobian networks.
case(
    "orthogonal_dense",
    "keras_gradstab.layers:OrthogonalDense",
    {"units": 6, "activation": "abs"},
    (2, 6),
)
case(
    "orthogonal_dense_rect",
    "keras_gradstab.layers:OrthogonalDense",
    {"units": 4, "activation": "max_min"},
    (2, 5),
)

# SBO-RNN.
case(
    "sbornn_gd",
    "keras_gradstab.layers:SBORNN",
    {"units": 5, "rank": 2, "update": "gd", "eta": 0.1, "bias_initializer": "ones"},
    (2, 6, 3),
)
case(
    "sbornn_heavy_ball",
    "keras_gradstab.layers:SBORNN",
    {
        "units": 5,
        "rank": 2,
        "update": "heavy_ball",
        "eta": 0.1,
        "return_sequences": True,
        "bias_initializer": "ones",
    },
    (2, 6, 3),
)
case(
    "sbornn_nesterov",
    "keras_gradstab.layers:SBORNN",
    {"units": 5, "rank": 2, "update": "nesterov", "eta": 0.1, "bias_initializer": "ones"},
    (2, 6, 3),
)
case(
    "scornn",
    "keras_gradstab.layers:ScoRNN",
    {"units": 6, "n_neg": 2, "return_sequences": True},
    (2, 5, 3),
)
case("ncgru", "keras_gradstab.layers:NCGRU", {"units": 6, "return_sequences": True}, (2, 5, 3))
case(
    "ncgru_neumann_orthogonal_reset",
    "keras_gradstab.layers:NCGRU",
    {"units": 4, "cayley_inverse": "neumann", "orthogonal_reset": True, "reset_after": False},
    (2, 5, 3),
)
case(
    "enrnn",
    "keras_gradstab.layers:ENRNN",
    {"orthogonal_units": 4, "normalized_units": 3, "return_sequences": True},
    (2, 5, 3),
)
