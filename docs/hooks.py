"""MkDocs hook: the pages generated from the repository at build time.

Nothing here needs editing when the project grows:

- every `tutorials/*.py` (jupytext py:percent) becomes a notebook page rendered
  by mkdocs-jupyter (not executed): each code cell shows the output recorded for
  it by `docs/record_tutorials.py` (quick mode, `docs/tutorials/outputs/`), and
  the committed figures `docs/tutorials/figures/<name>*.png` are appended; an
  entry under "Tutorials";
- the API reference gets one page per area of `keras_gradstab.__all__`, listing
  every symbol of that area's `__all__` (rendered by mkdocstrings);
- `<!-- gradstab:zoo-table -->` becomes the table of the presets'
  `keras_gradstab/zoo/presets/*/metadata.json`;
- `<!-- gradstab:benchmark-results -->` becomes `benchmarks/RESULTS.md`;
- `<!-- gradstab:tutorial-gallery -->` becomes a list of the tutorials with their
  first figure.

The helpers below are plain functions so that tests can call them directly.
"""

import glob
import importlib
import importlib.util
import inspect
import json
import logging
import os
import re
import sys
import tempfile

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record_tutorials import cell_key, load_outputs  # noqa: E402

sys.path.pop(0)

log = logging.getLogger("mkdocs.plugins.gradstab")

ZOO_MARKER = "<!-- gradstab:zoo-table -->"
RESULTS_MARKER = "<!-- gradstab:benchmark-results -->"
GALLERY_MARKER = "<!-- gradstab:tutorial-gallery -->"
TUTORIALS_NAV = "tutorials/index.md"
REFERENCE_NAV = "reference/index.md"
FIGURES_DIR = os.path.join("docs", "tutorials", "figures")
_state = {}


# ----------------------------------------------------------------------------
# Discovery (plain functions, used by the events below and by the tests).


def tutorial_names(root):
    """Names of the tutorials: the stems of `tutorials/*.py`, sorted."""
    paths = glob.glob(os.path.join(root, "tutorials", "*.py"))
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in paths)


def tutorial_figures(root, name, names=None):
    """The committed figures of tutorial `name`, as paths relative to `docs/`.

    A figure belongs to the tutorial with the longest name that prefixes it, so
    `snn_deep.png` belongs to `snn_deep`, not to `snn`, when both exist.
    """
    names = names if names is not None else tutorial_names(root)
    found = []
    for path in sorted(glob.glob(os.path.join(root, FIGURES_DIR, f"{name}*.png"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        owner = max((n for n in names if stem.startswith(n)), key=len, default=name)
        if owner == name:
            found.append(os.path.relpath(path, os.path.join(root, "docs")).replace(os.sep, "/"))
    return found


def tutorial_title_and_summary(path):
    """The first markdown heading of a tutorial and the paragraph after it."""
    title, summary, lines = None, [], []
    with open(path, encoding="utf-8") as f:
        in_markdown = False
        for line in f:
            if line.startswith("# %%"):
                in_markdown = "[markdown]" in line
                continue
            if in_markdown and line.startswith("#"):
                lines.append(line[1:].strip())
    for text in lines:
        if title is None:
            if text.startswith("# "):
                title = text[2:].strip()
            continue
        if not text:
            if summary:
                break
            continue
        if text.startswith("#"):
            break
        summary.append(text)
    name = os.path.splitext(os.path.basename(path))[0]
    return title or name.replace("_", " "), " ".join(summary)


def public_areas(root):
    """`{area: [symbol, ...]}` from `keras_gradstab.__all__` and each area's `__all__`.

    The package is imported from `root` (the checkout being documented), with a
    Keras backend that is installed when `KERAS_BACKEND` is unset.
    """
    if "KERAS_BACKEND" not in os.environ:
        for backend in ("jax", "torch", "tensorflow"):
            if importlib.util.find_spec(backend) is not None:
                os.environ["KERAS_BACKEND"] = backend
                break
    if root not in sys.path:
        sys.path.insert(0, root)
    package = importlib.import_module("keras_gradstab")
    areas = {}
    for area in package.__all__:
        module = getattr(package, area, None)
        if inspect.ismodule(module):
            areas[area] = sorted(getattr(module, "__all__", []), key=str.lower)
    return areas


def _summary(obj):
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def reference_pages(areas):
    """`{src_uri: markdown}` of the API reference: an index and one page per area."""
    import keras_gradstab

    pages = {}
    index = [
        "# API reference",
        "",
        "Generated from the docstrings of every symbol in each area's `__all__`.",
        "",
        "| area | symbols |",
        "|---|---|",
    ]
    for area, names in areas.items():
        module = getattr(keras_gradstab, area)
        index.append(f"| [`keras_gradstab.{area}`]({area}.md) | {len(names)} |")
        page = [
            f"# keras_gradstab.{area}",
            "",
            f"::: keras_gradstab.{area}",
            "    options:",
            "      members: false",
            "      show_root_heading: false",
            "      show_root_toc_entry: false",
            "",
            "| symbol | summary |",
            "|---|---|",
        ]
        for name in names:
            summary = _summary(getattr(module, name)).replace("|", "\\|")
            anchor = f"keras_gradstab.{area}.{name}"
            page.append(f"| [`{name}`](#{anchor}) | {summary} |")
        page.append("")
        for name in names:
            page += [f"::: keras_gradstab.{area}.{name}", ""]
        pages[f"reference/{area}.md"] = "\n".join(page)
    pages[REFERENCE_NAV] = "\n".join(index) + "\n"
    return pages


def _cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def _data_text(data):
    text = data.get("dataset", "")
    if data.get("kwargs"):
        text += "(" + ", ".join(f"{k}={v!r}" for k, v in sorted(data["kwargs"].items())) + ")"
    return text


def _preset_section(meta, presets):
    """The details of one preset: its task, data, recipe, and every model compared."""
    metric = meta["metric"]
    lines = [
        f"### {meta['name']}",
        "",
        _cell(meta["task"]),
        "",
        f"- data: `{_data_text(meta.get('data') or {})}`",
        f"- recipe: `{meta['recipe']}`",
        f"- trained on {meta['backend']}, Keras {meta['keras_version']}",
        "",
        f"| model | {metric} | how it was trained |",
        "|---|---|---|",
        f"| **this preset** | **{presets.format_value(metric, meta['value'])}** | "
        "the recipe above |",
    ]
    baseline = meta["baseline"]
    if "none" in baseline:
        lines.append(f"| no baseline | - | {_cell(baseline['none'])} |")
    for record in ([] if "none" in baseline else [baseline]) + meta.get("more_baselines", []):
        seconds = f" ({record['train_seconds']:.0f} s)" if "train_seconds" in record else ""
        lines.append(
            f"| {_cell(record['model'])} | "
            f"{presets.format_value(metric, record['value'])} | "
            f"{_cell(record['trained'])}{seconds} |"
        )
    return "\n".join(lines) + "\n"


def zoo_table(root):
    """The zoo page's Markdown: one row per preset of
    `keras_gradstab/zoo/presets/*/metadata.json` (its metric against its baseline,
    signed so that positive means the preset is better), then each preset's details."""
    paths = sorted(
        glob.glob(os.path.join(root, "keras_gradstab", "zoo", "presets", "*", "metadata.json"))
    )
    if not paths:
        return "*No preset ships yet.*\n"
    presets = importlib.import_module("keras_gradstab.zoo.presets")
    rows = ["| preset | metric | this preset | baseline | difference |", "|---|---|---|---|---|"]
    sections = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
        presets.check_metadata(meta, source=path)
        metric, baseline = meta["metric"], meta["baseline"]
        if "none" in baseline:
            base, delta = "none", "-"
        else:
            base = presets.format_value(metric, baseline["value"])
            delta = presets.format_improvement(
                metric, presets.improvement(metric, meta["value"], baseline["value"])
            )
        rows.append(
            f"| [`{meta['name']}`](#{meta['name']}) | {metric} | "
            f"{presets.format_value(metric, meta['value'])} | {base} | {delta} |"
        )
        sections.append(_preset_section(meta, presets))
    return "\n".join(rows) + "\n\n" + "\n".join(sections)


def benchmark_results(root):
    """`benchmarks/RESULTS.md` without its top heading (the page has its own)."""
    with open(os.path.join(root, "benchmarks", "RESULTS.md"), encoding="utf-8") as f:
        text = f.read()
    return re.sub(r"\A\s*# [^\n]*\n", "", text, count=1)


def tutorial_gallery(root, page_dir):
    """Markdown list of the tutorials (title, summary, first figure).

    `page_dir` is the directory (relative to `docs/`) of the page that shows it.
    """
    names = tutorial_names(root)
    if not names:
        return "*No tutorial yet.*\n"
    out = []
    for name in names:
        title, summary = tutorial_title_and_summary(os.path.join(root, "tutorials", f"{name}.py"))
        link = os.path.relpath(f"tutorials/{name}.ipynb", page_dir or ".").replace(os.sep, "/")
        out.append(f"### [{title}]({link})\n")
        if summary:
            out.append(f"{summary}\n")
        figures = tutorial_figures(root, name, names)
        if figures:
            src = os.path.relpath(figures[0], page_dir or ".").replace(os.sep, "/")
            out.append(f"[![{title}]({src}){{ width=480 }}]({link})\n")
    return "\n".join(out)


def staged_tutorial(root, name, figure_urls):
    """The text of tutorial `name` with a last markdown cell showing its figures."""
    with open(os.path.join(root, "tutorials", f"{name}.py"), encoding="utf-8") as f:
        text = f.read().rstrip("\n")
    cell = ["", "", "# %% [markdown]", "# ## Figures", "#"]
    if figure_urls:
        cell.append(
            "# Made by the full run of this script (`python tutorials/"
            f"{name}.py`) and committed under `docs/tutorials/figures/`."
        )
        for url in figure_urls:
            cell += ["#", f"# ![{os.path.basename(url)}]({url})"]
    else:
        cell.append(
            "# No figure of this tutorial is committed yet: run "
            f"`python tutorials/{name}.py` (full mode) to make it."
        )
    return text + "\n".join(cell) + "\n"


def tutorial_notebook(text, outputs):
    """`(ipynb_json, missing)`: the py:percent `text` as a notebook whose code
    cells carry the `outputs` recorded for them (`{cell_key: text}`), and how
    many code cells had no recorded output."""
    import jupytext
    import nbformat

    notebook = jupytext.reads(text, fmt="py:percent")
    count = missing = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        recorded = outputs.get(cell_key(cell.source))
        if recorded is None:
            missing += 1
        cell.outputs = (
            [nbformat.v4.new_output("stream", name="stdout", text=recorded)] if recorded else []
        )
    return nbformat.writes(notebook), missing


# ----------------------------------------------------------------------------
# MkDocs events.


def _root(config):
    return os.path.dirname(os.path.abspath(config.config_file_path))


def _expand_nav(nav, replacements):
    out = []
    for item in nav:
        if isinstance(item, dict):
            ((title, value),) = item.items()
            if isinstance(value, str) and value in replacements:
                out.append({title: replacements[value]})
            elif isinstance(value, list):
                out.append({title: _expand_nav(value, replacements)})
            else:
                out.append(item)
        else:
            out.append(item)
    return out


def on_config(config):
    root = _root(config)
    names = tutorial_names(root)
    areas = public_areas(root)
    _state.update(root=root, names=names, areas=areas)
    tutorials = [TUTORIALS_NAV] + [
        {
            tutorial_title_and_summary(os.path.join(root, "tutorials", f"{n}.py"))[
                0
            ]: f"tutorials/{n}.ipynb"
        }
        for n in names
    ]
    reference = [REFERENCE_NAV] + [{area: f"reference/{area}.md"} for area in areas]
    if config.nav:
        config.nav = _expand_nav(config.nav, {TUTORIALS_NAV: tutorials, REFERENCE_NAV: reference})
    return config


@event_priority(100)  # before mkdocs-jupyter wraps the notebooks
def on_files(files, config):
    root = _state["root"]
    names = _state["names"]
    stage = tempfile.mkdtemp(prefix="gradstab-docs-")
    _state.setdefault("stages", []).append(stage)
    os.makedirs(os.path.join(stage, "tutorials"))
    for name in names:
        figures = tutorial_figures(root, name, names)
        for figure in figures:
            if files.get_file_from_path(figure) is None:
                log.warning("figure %s of tutorial %s is not in the docs", figure, name)
        # The page of tutorials/<name>.py is tutorials/<name>/ (directory URLs)
        # or tutorials/<name>.html; figures are under tutorials/figures/.
        prefix = "../" if config.use_directory_urls else ""
        urls = [prefix + os.path.relpath(f, "tutorials").replace(os.sep, "/") for f in figures]
        if not figures:
            log.info("tutorial %s has no committed figure under %s", name, FIGURES_DIR)
        notebook, missing = tutorial_notebook(
            staged_tutorial(root, name, urls), load_outputs(root, name)
        )
        if missing:
            log.info(
                "tutorial %s: %d code cells have no recorded output (run "
                "docs/record_tutorials.py %s)",
                name,
                missing,
                name,
            )
        with open(os.path.join(stage, "tutorials", f"{name}.ipynb"), "w", encoding="utf-8") as f:
            f.write(notebook)
        # A File with a src_dir (not File.generated): mkdocs-jupyter's wrapper
        # finds the notebook through `src_dir`.
        files.append(
            File(
                f"tutorials/{name}.ipynb",
                src_dir=stage,
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    for src_uri, content in reference_pages(_state["areas"]).items():
        files.append(File.generated(config, src_uri, content=content))
    return files


def on_page_markdown(markdown, page, config, files):
    root = _state["root"]
    if ZOO_MARKER in markdown:
        markdown = markdown.replace(ZOO_MARKER, zoo_table(root))
    if RESULTS_MARKER in markdown:
        markdown = markdown.replace(RESULTS_MARKER, benchmark_results(root))
    if GALLERY_MARKER in markdown:
        page_dir = os.path.dirname(page.file.src_uri)
        markdown = markdown.replace(GALLERY_MARKER, tutorial_gallery(root, page_dir))
    return markdown


def on_post_build(config):
    import shutil

    for stage in _state.pop("stages", []):
        shutil.rmtree(stage, ignore_errors=True)
