"""Run by test_data_parallel.py in a JAX process with 2 CPU devices; prints JSON.

Trains the same zoo-style model (the self-normalizing MLP family of
snn_mlp_digits) twice from the same initial weights on the same batches: on one
device, then under keras.distribution.DataParallel over both devices.
"""

import json

import jax
import keras
import numpy as np

from keras_gradstab import datasets, models


def train(distribution):
    keras.distribution.set_distribution(distribution)
    keras.utils.set_random_seed(0)
    model = models.snn((8, 8, 1), units=32, depth=4, output_units=10, dropout_rate=0.0)
    model.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    (x, y), _ = datasets.digits(seed=0)
    x, y = x[:512], y[:512]
    history = model.fit(x, y, batch_size=64, epochs=3, shuffle=False, verbose=0)
    weights = [np.asarray(w) for w in model.get_weights()]
    kernel = model.get_layer("dense_0").kernel.value
    placement = {
        "devices": len(kernel.sharding.device_set),
        "replicated": bool(kernel.sharding.is_fully_replicated),
    }
    return history.history["loss"], weights, placement


devices = jax.devices("cpu")
single_losses, single_weights, single_sharding = train(None)
parallel = keras.distribution.DataParallel(devices=devices)
parallel_losses, parallel_weights, parallel_sharding = train(parallel)
print(
    "RESULT "
    + json.dumps(
        {
            "devices": len(devices),
            "mesh_shape": list(parallel.device_mesh.shape),
            "single": single_losses,
            "parallel": parallel_losses,
            "max_weight_difference": max(
                float(np.max(np.abs(a - b))) for a, b in zip(single_weights, parallel_weights)
            ),
            "single_placement": single_sharding,
            "parallel_placement": parallel_sharding,
            "batch_layout": list(parallel.get_data_layout((64, 8, 8, 1)).axes),
        }
    )
)
