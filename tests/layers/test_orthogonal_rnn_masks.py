"""ScoRNN, ENRNN and NC-GRU: the scan loop against Keras's own RNN loop
(`keras.layers.RNN` on the same cell) with masked steps, forwards and backwards."""

import numpy as np
import pytest
from orthogonal_rnn_checks import (
    assert_matches_keras_loop,
    one_torch_thread,  # noqa: F401 (autouse)
)

from keras_gradstab.layers import ENRNN, NCGRU, ScoRNN

# (layer, arguments, masked steps as (row, start, stop)) on a [3, 7, 4] input.
CASES = [
    (ScoRNN, {"units": 6, "n_neg": 3}, [(0, 5, None), (1, None, 2)]),
    (ENRNN, {"orthogonal_units": 4, "normalized_units": 3}, [(1, 4, None)]),
    (NCGRU, {"units": 6, "orthogonal_reset": True}, [(0, 5, None), (2, None, 3)]),
]


@pytest.mark.parametrize(
    "layer_cls, kwargs, masked", CASES, ids=[case[0].__name__ for case in CASES]
)
def test_matches_keras_rnn_loop_with_masks(layer_cls, kwargs, masked):
    x = np.random.default_rng(3).normal(size=(3, 7, 4)).astype("float32")
    mask = np.ones((3, 7), bool)
    for row, start, stop in masked:
        mask[row, start:stop] = False
    assert_matches_keras_loop(layer_cls, kwargs, x, mask=mask)
