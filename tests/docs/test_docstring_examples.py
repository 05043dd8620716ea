"""The `>>>` examples in the docstring of every public symbol run and print what they say.

Every symbol of every area's `__all__` (the API reference of the docs site) has
its own docstring's examples run as a doctest (methods are not included), in
fresh globals: an example must import what it uses, as a reader pasting it
would. The examples print backend-independent values, so they run once, on
torch (the fastest eager backend here: the whole set takes ~10 s of CPU on
torch against ~90 s on JAX); the other backends skip with that reason.
`KERAS_GRADSTAB_DOCTEST_BACKEND` picks another backend.
"""

import doctest
import inspect
import os

import pytest
from harness import BACKEND

import keras_gradstab as kg

DOCTEST_BACKEND = os.environ.get("KERAS_GRADSTAB_DOCTEST_BACKEND", "torch")
AREAS = [name for name in kg.__all__ if inspect.ismodule(getattr(kg, name, None))]
SYMBOLS = [(area, name) for area in AREAS for name in getattr(getattr(kg, area), "__all__", [])]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _examples(obj, qualname):
    finder = doctest.DocTestFinder(recurse=False, exclude_empty=True)
    return finder.find(obj, qualname, module=False, globs={})


@pytest.mark.skipif(
    BACKEND != DOCTEST_BACKEND,
    reason=f"docstring examples run once, on {DOCTEST_BACKEND} (their printed "
    "values do not depend on the backend)",
)
@pytest.mark.parametrize("area,name", SYMBOLS, ids=[f"{a}.{n}" for a, n in SYMBOLS])
def test_docstring_examples_run(area, name):
    obj = getattr(getattr(kg, area), name)
    qualname = f"keras_gradstab.{area}.{name}"
    tests = _examples(obj, qualname)
    if not tests or not any(t.examples for t in tests):
        pytest.skip(f"{qualname} has no `>>>` example (tests/test_api_docs.py requires one)")
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = []
    for test in tests:
        runner.run(test, out=report.append)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, "".join(report)


def test_a_wrong_example_fails():
    """The runner above does fail on an example whose output is wrong."""

    def f():
        """Adds one.

        >>> 1 + 1
        3
        """

    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _examples(f, "f"):
        runner.run(test, out=lambda s: None)
    assert runner.summarize(verbose=False).failed == 1
