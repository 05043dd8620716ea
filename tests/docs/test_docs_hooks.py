"""The pages that docs/hooks.py generates at build time, checked against the repository.

These need the `docs` extra (mkdocs); without it they skip.
"""

import inspect
import json
import os
import sys

import pytest

pytest.importorskip("mkdocs", reason="the docs extra (mkdocs) is not installed")

import keras_gradstab as kg  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "docs"))
import griffe_keras  # noqa: E402
import hooks  # noqa: E402
import record_tutorials  # noqa: E402

sys.path.pop(0)


def test_reference_lists_every_symbol_of_every_area():
    areas = hooks.public_areas(ROOT)
    expected = {a for a in kg.__all__ if inspect.ismodule(getattr(kg, a))}
    assert set(areas) == expected
    pages = hooks.reference_pages(areas)
    for area in expected:
        page = pages[f"reference/{area}.md"]
        for name in getattr(kg, area).__all__:
            assert f"::: keras_gradstab.{area}.{name}\n" in page, (area, name)
        # One ::: directive per symbol plus the area's module docstring.
        assert page.count(":::") == len(getattr(kg, area).__all__) + 1
    assert "reference/index.md" in pages


def test_every_tutorial_becomes_a_page_with_its_figures(tmp_path):
    (tmp_path / "tutorials").mkdir()
    figures = tmp_path / "docs" / "tutorials" / "figures"
    figures.mkdir(parents=True)
    for name in ("snn", "snn_deep"):
        (tmp_path / "tutorials" / f"{name}.py").write_text(
            "# %% [markdown]\n# # Title of " + name + "\n#\n# Summary line.\n\n# %%\nx = 1\n"
        )
    for png in ("snn.png", "snn_grad.png", "snn_deep.png", "snn_deep_2.png", "other.png"):
        (figures / png).write_bytes(b"png")
    assert hooks.tutorial_names(str(tmp_path)) == ["snn", "snn_deep"]
    # A figure belongs to the longest tutorial name that prefixes it.
    assert hooks.tutorial_figures(str(tmp_path), "snn") == [
        "tutorials/figures/snn.png",
        "tutorials/figures/snn_grad.png",
    ]
    assert hooks.tutorial_figures(str(tmp_path), "snn_deep") == [
        "tutorials/figures/snn_deep.png",
        "tutorials/figures/snn_deep_2.png",
    ]
    title, summary = hooks.tutorial_title_and_summary(str(tmp_path / "tutorials" / "snn.py"))
    assert (title, summary) == ("Title of snn", "Summary line.")
    staged = hooks.staged_tutorial(str(tmp_path), "snn", ["../figures/snn.png"])
    assert staged.startswith("# %% [markdown]\n# # Title of snn")
    assert staged.rstrip().endswith("# ![snn.png](../figures/snn.png)")
    gallery = hooks.tutorial_gallery(str(tmp_path), "tutorials")
    assert "### [Title of snn](snn.ipynb)" in gallery
    assert "(figures/snn_deep.png)" in gallery


def test_zoo_table_has_a_row_per_preset(tmp_path):
    presets = tmp_path / "keras_gradstab" / "zoo" / "presets"
    assert hooks.zoo_table(str(tmp_path)).startswith("*No preset ships yet.*")
    baselines = {
        "a_preset": {
            "model": "a GRU",
            "metric": "accuracy",
            "value": 0.9,
            "trained": "the same way",
            "train_seconds": 12.4,
        },
        "b_preset": {"none": "no model to compare with"},
        "c_preset": {
            "model": "an LSTM",
            "metric": "bits_per_character",
            "value": 2.0,
            "trained": "the same way",
        },
    }
    for name, value in (("b_preset", 0.5), ("a_preset", 0.98765), ("c_preset", 1.75)):
        (presets / name).mkdir(parents=True)
        metric = baselines[name].get("metric", "accuracy")
        (presets / name / "metadata.json").write_text(
            json.dumps(
                {
                    "name": name,
                    "task": f"task | of {name}",
                    "metric": metric,
                    "value": value,
                    "data": {"dataset": "digits", "kwargs": {"seed": 0}},
                    "recipe": f"model_zoo/{name}/train.py",
                    "keras_version": "3.15.1",
                    "backend": "jax",
                    "baseline": baselines[name],
                }
            )
        )
    text = hooks.zoo_table(str(tmp_path))
    rows = text.split("\n\n")[0].splitlines()
    assert rows[:2] == [
        "| preset | metric | this preset | baseline | difference |",
        "|---|---|---|---|---|",
    ]
    # ours minus the baseline, positive when ours is better (lower bits are better).
    assert rows[2:] == [
        "| [`a_preset`](#a_preset) | accuracy | 98.77% | 90.00% | +8.77 pts |",
        "| [`b_preset`](#b_preset) | accuracy | 50.00% | none | - |",
        "| [`c_preset`](#c_preset) | bits_per_character | 1.7500 | 2.0000 | +0.2500 |",
    ]
    details = text.split("### a_preset", 1)[1].split("### b_preset")[0]
    assert "task \\| of a_preset" in details and "`digits(seed=0)`" in details
    assert "| a GRU | 90.00% | the same way (12 s) |" in details
    assert "| no baseline | - | no model to compare with |" in text
    # Metadata without a baseline record is refused, not shown with a blank.
    (presets / "b_preset" / "metadata.json").write_text(json.dumps({"name": "b_preset"}))
    with pytest.raises(ValueError, match="lacks the required keys"):
        hooks.zoo_table(str(tmp_path))


def test_benchmark_page_is_results_md_without_its_title():
    text = hooks.benchmark_results(ROOT)
    with open(os.path.join(ROOT, "benchmarks", "RESULTS.md")) as f:
        original = f.read()
    assert not text.lstrip().startswith("# ")
    assert text.strip() in original and len(text) > len(original) - 100


def test_keras_examples_become_an_examples_section():
    doc = "Summary.\n\nArgs:\n    x: a thing.\n\nExample:\n\n>>> 1 + 1\n2\n\nReturns:\n    y."
    out = griffe_keras.indent_examples(doc)
    assert "Examples:\n    >>> 1 + 1\n    2\n\nReturns:\n    y." in out
    assert out.startswith("Summary.\n\nArgs:\n    x: a thing.\n\n")


def test_a_tutorial_page_shows_the_outputs_recorded_for_its_cells():
    pytest.importorskip("jupytext", reason="the docs extra (jupytext) is not installed")
    text = "# %% [markdown]\n# # T\n\n# %%\nprint(1)\n\n# %%\nx = 2\n\n# %%\nprint(x)\n"
    outputs = {record_tutorials.cell_key("print(1)"): "1\n", record_tutorials.cell_key("x = 2"): ""}
    notebook, missing = hooks.tutorial_notebook(text, outputs)
    cells = [c for c in json.loads(notebook)["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in cells] == [1, 2, 3]
    assert "".join(cells[0]["outputs"][0]["text"]) == "1\n"
    assert cells[1]["outputs"] == [] and cells[2]["outputs"] == []
    assert missing == 1  # print(x) has no recorded output


def test_every_tutorial_cell_has_a_recorded_output():
    """A tutorial whose cells changed must be recorded again
    (`python docs/record_tutorials.py <name>`), or its page shows no output."""
    pytest.importorskip("jupytext", reason="the docs extra (jupytext) is not installed")
    for name in hooks.tutorial_names(ROOT):
        with open(os.path.join(ROOT, "tutorials", f"{name}.py"), encoding="utf-8") as f:
            cells = record_tutorials.code_cells(f.read())
        recorded = record_tutorials.load_outputs(ROOT, name)
        stale = [c.splitlines()[0] for c in cells if record_tutorials.cell_key(c) not in recorded]
        assert not stale, (name, stale)


def test_docstrings_set_at_import_reach_the_api_reference():
    """`OrthogonalConv1D.__doc__ = _DOC.format(...)` (in `_document`) and
    `_registry.document` set docstrings that griffe's static analysis does not see;
    RuntimeDocstrings fills them."""
    import griffe

    extensions = griffe.load_extensions(griffe_keras.RuntimeDocstrings)
    module = griffe.load(
        "keras_gradstab.layers.orthogonal_conv", search_paths=[ROOT], extensions=extensions
    )
    doc = module["OrthogonalConv1D"].docstring
    assert doc is not None and doc.value.startswith("1D convolution, orthogonal")
    area = griffe.load("keras_gradstab.constraints", search_paths=[ROOT], extensions=extensions)
    assert area["get"].docstring.value.startswith("A constraint from a name")
