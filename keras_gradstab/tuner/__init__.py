"""keras-tuner hypermodels for the zoo's model families, and a search per preset.

Needs the `tuner` extra (`pip install 'keras_gradstab[tuner]'`): importing this
module imports `keras_tuner`; `import keras_gradstab` alone does not (the
attribute `keras_gradstab.tuner` imports it on first use).

One `keras_tuner.HyperModel` per family, each building a compiled classifier
for a given data shape: `SNNHyperModel` (depth, units, dropout),
`OrthogonalCNNHyperModel` (Lorth factor or exact `OrthogonalConv2D`),
`RecurrentHyperModel` (NC-GRU / scoRNN / ENRNN units, Cayley inverse, Neumann
terms), `ReSTEBNNHyperModel` (ReSTE `o_end`), `PLSTMHyperModel` (mode, heads);
the learning rate everywhere. `tune(preset)` (and `keras-gradstab tune PRESET`)
runs a `RandomSearch` on a preset's task and returns the best hyperparameters.

Distributed tuning uses keras-tuner's own mechanism: one chief process serves
the oracle over gRPC and any number of workers run trials. Start the same
command in every process with these environment variables:

    # the chief (serves the search; returns the result when the workers are done)
    KERASTUNER_TUNER_ID=chief KERASTUNER_ORACLE_IP=127.0.0.1 \\
        KERASTUNER_ORACLE_PORT=8000 keras-gradstab tune snn_mlp_digits --trials 8
    # each worker, with its own id
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=127.0.0.1 \\
        KERASTUNER_ORACLE_PORT=8000 keras-gradstab tune snn_mlp_digits --trials 8

Use the chief's address instead of 127.0.0.1 across machines. The chief needs
`grpcio` (in the `tuner` extra). tests/tuner/test_distributed_tuning.py runs a
chief and one worker on loopback.
"""

from keras_gradstab.tuner.hypermodels import (
    OrthogonalCNNHyperModel,
    PLSTMHyperModel,
    RecurrentHyperModel,
    ReSTEBNNHyperModel,
    SNNHyperModel,
)
from keras_gradstab.tuner.search import hypermodel_for, list_tasks, task_data, tune

__all__ = [
    "OrthogonalCNNHyperModel",
    "PLSTMHyperModel",
    "ReSTEBNNHyperModel",
    "RecurrentHyperModel",
    "SNNHyperModel",
    "hypermodel_for",
    "list_tasks",
    "task_data",
    "tune",
]
