"""Griffe extension: read Keras-style `Example:` sections as Google-style ones.

Keras writes the `>>>` lines of an `Example:` section flush left, after a blank
line; the Google style that griffe parses wants an `Examples:` section with its
body indented under the title. This extension rewrites it so (in the documentation only; the
source is untouched), so that mkdocstrings renders the examples as code.
"""

import re

import griffe

_EXAMPLE = re.compile(r"^Examples?:\s*$")
_SECTION = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")


def indent_examples(text):
    """`text` with the body of each flush-left `Example:` section indented."""
    lines = text.split("\n")
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not _EXAMPLE.match(line):
            out.append(line)
            continue
        # Griffe reads "Example:" as an admonition; "Examples:" is the section.
        out.append("Examples:")
        while i < len(lines) and not lines[i].strip():
            i += 1
        while i < len(lines) and not _SECTION.match(lines[i]):
            out.append("    " + lines[i] if lines[i].strip() else "")
            i += 1
    return "\n".join(out)


class KerasExamples(griffe.Extension):
    """Indents the flush-left `Example:` sections of every docstring."""

    def on_instance(self, *, node, obj, agent, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = indent_examples(obj.docstring.value)


def _runtime_docstring(obj):
    """The docstring of `obj` as Python sees it once its module is imported."""
    import importlib
    import inspect

    try:
        module = importlib.import_module(obj.parent.path)
        return inspect.getdoc(getattr(module, obj.name))
    except Exception:  # noqa: BLE001 - no runtime docstring: leave the object as it is
        return None


class RuntimeDocstrings(griffe.Extension):
    """Fills the docstring of a module-level class or function that has none in
    its source but gets one at import (`Cls.__doc__ = TEMPLATE.format(...)`)."""

    def on_instance(self, *, node, obj, agent, **kwargs):
        if (
            obj.docstring is None
            and (obj.is_class or obj.is_function)
            and obj.parent is not None
            and obj.parent.is_module
        ):
            text = _runtime_docstring(obj)
            if text:
                obj.docstring = griffe.Docstring(
                    indent_examples(text),
                    parent=obj,
                    parser=getattr(agent, "docstring_parser", None),
                    parser_options=getattr(agent, "docstring_options", None),
                )
