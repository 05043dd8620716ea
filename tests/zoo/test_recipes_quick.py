"""Every zoo recipe runs in its `--quick` mode (a few steps) on this backend.

The convention of `model_zoo/<name>/train.py`: a `main(argv)` function; with
`--quick --out DIR` it trains a tiny version for a few steps and writes whatever
it produces (a preset, a metrics JSON) under DIR, never into the package.
"""

import glob
import os
import runpy

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
RECIPES = sorted(glob.glob(os.path.join(ROOT, "model_zoo", "*", "train.py")))
PRESETS_DIR = os.path.join(ROOT, "keras_gradstab", "zoo", "presets")


def _snapshot(directory):
    found = {}
    for path in glob.glob(os.path.join(directory, "**", "*"), recursive=True):
        if os.path.isfile(path):
            found[path] = os.path.getmtime(path)
    return found


@pytest.mark.parametrize(
    "recipe", RECIPES, ids=[os.path.basename(os.path.dirname(r)) for r in RECIPES]
)
def test_recipe_quick_mode(recipe, tmp_path):
    before = _snapshot(PRESETS_DIR)
    main = runpy.run_path(recipe, run_name="recipe")["main"]
    main(["--quick", "--out", str(tmp_path / "out")])
    # A quick run must not overwrite the shipped presets.
    assert _snapshot(PRESETS_DIR) == before
