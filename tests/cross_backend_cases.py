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


# The foundation's own layer built on ops.scan (tests/layers_for_tests.py).
case("scan_simple_rnn", "layers_for_tests:ScanSimpleRNN", {"units": 5}, (2, 7, 3))
case("scan_simple_rnn_reverse", "layers_for_tests:ScanSimpleRNN",
     {"units": 4, "go_backwards": True, "return_sequences": True}, (2, 6, 3))
case("scornn", "keras_gradstab.layers:ScoRNN",
     {"units": 6, "n_neg": 2, "return_sequences": True}, (2, 5, 3))
case("ncgru", "keras_gradstab.layers:NCGRU", {"units": 6, "return_sequences": True}, (2, 5, 3))
case("ncgru_neumann_orthogonal_reset", "keras_gradstab.layers:NCGRU",
     {"units": 4, "cayley_inverse": "neumann", "orthogonal_reset": True,
      "reset_after": False}, (2, 5, 3))
case("enrnn", "keras_gradstab.layers:ENRNN",
     {"orthogonal_units": 4, "normalized_units": 3, "return_sequences": True}, (2, 5, 3))
