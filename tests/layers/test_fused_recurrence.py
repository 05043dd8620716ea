"""The library's recurrent layers on their backend's fused recurrence against the same
layers on the scan, outputs and gradients, and proof that the fused path ran (torch;
the other backends have no fused recurrences and run the scan)."""

import keras
import numpy as np
import pytest
from harness import BACKEND, value_and_grad

from keras_gradstab import backend
from keras_gradstab.layers import ENRNN, NCGRU, SBORNN, ScoRNN

LAYERS = {
    "ncgru": (lambda **k: NCGRU(5, **k), "ncgru"),
    "ncgru_reset_before": (
        lambda **k: NCGRU(5, reset_after=False, orthogonal_reset=True, **k),
        "ncgru",
    ),
    "ncgru_neumann": (lambda **k: NCGRU(5, cayley_inverse="neumann", **k), "ncgru"),
    "scornn": (lambda **k: ScoRNN(5, **k), "modrelu"),
    "enrnn": (lambda **k: ENRNN(3, 2, **k), "modrelu"),
    "sbornn_gd": (lambda **k: SBORNN(5, rank=2, eta=0.2, **k), "sbornn"),
    "sbornn_nesterov": (
        lambda **k: SBORNN(5, rank=2, update="nesterov", eta=0.2, mu=0.6, **k),
        "sbornn",
    ),
}


def _run(layer, x, mask, fused, monkeypatch):
    """Outputs and gradients of `sum(outputs * c)` w.r.t. the weights and the input."""
    with monkeypatch.context() as patch:
        if not fused:
            patch.setattr(backend, "fused_recurrence", {})
        weights = [keras.ops.convert_to_numpy(w) for w in layer.trainable_variables]
        c = keras.ops.convert_to_tensor(np.cos(np.arange(5 * 7 * 3)).reshape(3, 7, 5), "float32")

        def loss(x, *w):
            out, _ = layer.stateless_call(
                list(w), [v.value for v in layer.non_trainable_variables], x, mask=mask
            )
            return keras.ops.sum(out * c)

        return value_and_grad(loss, x, *weights)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_fused_equals_scan(name, masked, go_backwards, monkeypatch):
    factory, fused_name = LAYERS[name]
    if fused_name not in backend.fused_recurrence:
        pytest.skip(f"{BACKEND} has no fused {fused_name!r} recurrence: the layer runs the scan")
    layer = factory(return_sequences=True, go_backwards=go_backwards, zero_output_for_mask=masked)
    x = np.random.default_rng(0).normal(size=(3, 7, 4)).astype("float32")
    layer(x)
    mask = None
    if masked:
        mask = np.ones((3, 7), bool)
        mask[1, 4:] = False
        mask[2, :2] = False
    if BACKEND == "torch":
        from keras_gradstab.backend.torch import recurrence

        before = recurrence.CALLS.copy()
    value_fused, grads_fused = _run(layer, x, mask, True, monkeypatch)
    if BACKEND == "torch":
        calls = recurrence.CALLS - before
        assert set(calls) == {f"{fused_name}_recurrence"}, calls
        assert fused_name in backend.fused_recurrence
    value_scan, grads_scan = _run(layer, x, mask, False, monkeypatch)
    np.testing.assert_allclose(value_fused, value_scan, rtol=1e-5, atol=1e-5)
    for g_fused, g_scan in zip(grads_fused, grads_scan):
        np.testing.assert_allclose(g_fused, g_scan, rtol=1e-4, atol=1e-5)
