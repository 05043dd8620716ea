"""`run_tutorial(name)`: runs `tutorials/<name>.py` in quick mode, figures in tmp_path."""

import os
import runpy

import pytest

TUTORIALS = os.path.join(os.path.dirname(__file__), "..", "..", "tutorials")


@pytest.fixture
def run_tutorial(tmp_path, monkeypatch):
    """Returns a function that runs a tutorial's quick mode and returns its `results`."""
    monkeypatch.setenv("KERAS_GRADSTAB_QUICK", "1")
    monkeypatch.setenv("KERAS_GRADSTAB_TUTORIAL_OUT", str(tmp_path))

    def run(name, namespace=False):
        """The tutorial's `results` (its whole namespace with `namespace=True`)."""
        names = runpy.run_path(os.path.join(TUTORIALS, f"{name}.py"))
        return names if namespace else names["results"]

    return run
