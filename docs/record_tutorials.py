"""Records what the tutorials print in quick mode, for the documentation pages.

Each code cell of `tutorials/<name>.py` (jupytext py:percent) runs in order in one
namespace, with `KERAS_GRADSTAB_QUICK=1` and its figures in a temporary
directory; what the cell prints is stored in `docs/tutorials/outputs/<name>.json`
under the SHA-256 of the cell's source. The docs build (`docs/hooks.py`) shows
each stored output under the cell whose source still has that hash, so a cell
that changed shows no output until it is recorded again.

    KERAS_BACKEND=jax python docs/record_tutorials.py              # every tutorial
    KERAS_BACKEND=jax python docs/record_tutorials.py snn_vs_tanh  # one
"""

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUTS_DIR = os.path.join(ROOT, "docs", "tutorials", "outputs")


def code_cells(text):
    """The sources of the code cells of a py:percent script, as jupytext reads them."""
    import jupytext

    notebook = jupytext.reads(text, fmt="py:percent")
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def cell_key(source):
    """The key of a cell's recorded output: SHA-256 of its source, stripped."""
    return hashlib.sha256(source.strip().encode("utf-8")).hexdigest()


def load_outputs(root, name):
    """`{cell_key: text}` recorded for tutorial `name` (empty if none)."""
    path = os.path.join(root, "docs", "tutorials", "outputs", f"{name}.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return {cell["key"]: cell["output"] for cell in json.load(f)["cells"]}


def record(name):
    """Runs tutorial `name` in quick mode cell by cell; returns the record."""
    path = os.path.join(ROOT, "tutorials", f"{name}.py")
    with open(path, encoding="utf-8") as f:
        cells = code_cells(f.read())
    namespace = {"__name__": "__main__", "__file__": path}
    recorded = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        os.environ["KERAS_GRADSTAB_QUICK"] = "1"
        os.environ["KERAS_GRADSTAB_TUTORIAL_OUT"] = out
        for source in cells:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                exec(compile(source, path, "exec"), namespace)  # noqa: S102
            recorded.append({"key": cell_key(source), "output": buffer.getvalue()})
    import keras

    seconds = time.perf_counter() - start
    return {
        "tutorial": name,
        "mode": "quick",
        "backend": keras.backend.backend(),
        "cells": recorded,
    }, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="tutorials (default: all)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.path.insert(0, ROOT)
    names = args.names or sorted(
        os.path.splitext(p)[0]
        for p in os.listdir(os.path.join(ROOT, "tutorials"))
        if p.endswith(".py") and not p.startswith("_")
    )
    os.makedirs(OUTPUTS_DIR, exist_ok=True)
    for name in names:
        result, seconds = record(name)
        with open(os.path.join(OUTPUTS_DIR, f"{name}.json"), "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print(f"{name}: {len(result['cells'])} cells, {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
