"""The Keras backend when none is chosen and Keras's default is not installed.

Keras uses the backend of `KERAS_BACKEND`, else that of `keras.json`, else
TensorFlow; it writes `keras.json` on first import with the backend it used, so
the file usually holds "tensorflow" without anyone having chosen it. Where
TensorFlow is missing (an install with only the `jax` or `torch` extra) that
import fails. `keras_gradstab/__init__.py` runs `apply()` before anything
imports Keras: without `KERAS_BACKEND`, a `keras.json` backend that is not
installed gives way to an installed one. This module must not import Keras.
"""

import importlib.util
import json
import os
import sys

# In order of preference when the configured backend is missing.
BACKENDS = ("jax", "tensorflow", "torch")


def keras_json_backend(environ=None):
    """The backend that `keras.json` names, or None."""
    environ = os.environ if environ is None else environ
    home = environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as f:
            backend = json.load(f).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return backend if isinstance(backend, str) else None


def installed_backends():
    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


def choose(requested, from_file, installed):
    """The backend to set in `KERAS_BACKEND`, or None to leave Keras's choice.

    Args:
        requested: the value of `KERAS_BACKEND` (None or "" when unset).
        from_file: the backend `keras.json` names, or None.
        installed: the installed backends among `BACKENDS`.

    Raises:
        ImportError: in one line, when `KERAS_BACKEND` names a missing backend, or
            when no backend is installed, saying what to install or set.
    """
    if requested:
        if requested in BACKENDS and requested not in installed:
            raise ImportError(
                f"KERAS_BACKEND={requested} but {requested} is not installed (installed: "
                f"{', '.join(installed) or 'none'}): pip install "
                f"'keras_gradstab[{requested}]' or set KERAS_BACKEND to an installed one."
            )
        return None
    wanted = from_file or "tensorflow"
    if wanted in installed or wanted not in BACKENDS:
        return None
    if not installed:
        raise ImportError(
            "keras_gradstab needs a Keras backend and none is installed: "
            "pip install 'keras_gradstab[jax]' (or [torch], [tensorflow])."
        )
    return installed[0]


def apply():
    """Sets `KERAS_BACKEND` where `choose` picks a backend; Keras not yet imported."""
    if "keras" in sys.modules:
        return
    backend = choose(os.environ.get("KERAS_BACKEND"), keras_json_backend(), installed_backends())
    if backend is not None:
        os.environ["KERAS_BACKEND"] = backend
