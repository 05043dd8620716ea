"""One pytest process per backend: the backend comes from KERAS_BACKEND.

Never call keras.config.set_backend in a test: it reloads Keras and unloads the
library's registered classes.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

if os.environ.get("KERAS_BACKEND") == "torch":
    # torch before tensorflow when both are installed (shared-library clashes).
    import torch  # noqa: F401

import keras  # noqa: E402
import pytest  # noqa: E402


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.config.backend()}"


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.utils.clear_session()
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
