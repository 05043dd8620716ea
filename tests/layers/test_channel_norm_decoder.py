"""The issue's reduced deep-decoder check: fitting one image trains to a lower loss
with ChannelNormalization than without, and the gradient norms show why."""

import keras
import numpy as np
import pytest

from keras_gradstab.diagnostics import GradientMonitor
from keras_gradstab.layers import ChannelNormalization


def _image(size=16):
    # A smooth blob plus a sharp square, RGB in [0, 1].
    u = np.linspace(-1, 1, size)
    xx, yy = np.meshgrid(u, u)
    blob = np.exp(-4 * (xx**2 + yy**2))
    square = ((np.abs(xx - 0.4) < 0.3) & (np.abs(yy + 0.3) < 0.3)).astype(float)
    return np.stack([blob, square, 0.5 * (blob + square)], -1)[None].astype("float32")


def _decoder(normalize, channels=16, upsamplings=3, seed=0):
    # Dai & Heckel's decoder: [1x1 conv (no bias) -> bilinear x2 -> ReLU ->
    # channel norm] per layer, then 1x1 conv and sigmoid; input fixed noise.
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((2, 2, channels))]
    for i in range(upsamplings):
        layers.append(keras.layers.Conv2D(channels, 1, use_bias=False, name=f"conv_{i}"))
        layers.append(keras.layers.UpSampling2D(2, interpolation="bilinear"))
        layers.append(keras.layers.ReLU())
        if normalize:
            layers.append(ChannelNormalization(name=f"norm_{i}"))
    layers.append(keras.layers.Conv2D(3, 1, activation="sigmoid", name="conv_out"))
    return keras.Sequential(layers)


@pytest.mark.parametrize("steps", [80])
def test_channel_norm_fits_one_image_better(steps):
    # Reduced from the 64x64: a 16x16 image, 3 upsampling layers of 16
    # channels, Adam 1e-2, 80 steps.
    image = _image()
    noise = (np.random.default_rng(0).uniform(size=(1, 2, 2, 16)) * 0.1).astype("float32")
    losses, monitors = {}, {}
    for normalize in (False, True):
        model = _decoder(normalize)
        model.compile(keras.optimizers.Adam(1e-2), "mse")
        monitors[normalize] = GradientMonitor(noise, image, every=10 * steps)
        # One epoch of `steps` batches of the same pair: one step per batch.
        model.fit(np.repeat(noise, steps, 0), np.repeat(image, steps, 0), batch_size=1,
                  epochs=1, verbose=0, shuffle=False, callbacks=[monitors[normalize]])
        losses[normalize] = float(model.evaluate(noise, image, verbose=0))
    print(losses)
    assert losses[True] < 0.5 * losses[False], losses
    # Why: at initialization the first layer's gradient, relative to the last
    # layer's, is far smaller without normalization (the tiny input signal
    # shrinks through the layers and so do the gradients it multiplies).
    ratio = {}
    for normalize, monitor in monitors.items():
        rows = [r for r in monitor.history if r["step"] == 0 and r["weight_grad_norm"]]
        ratio[normalize] = rows[0]["weight_grad_norm"] / rows[-1]["weight_grad_norm"]
    print(ratio)
    assert ratio[True] > 10 * ratio[False], ratio
