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


def _runtime_function(module, name, agent):
    """A griffe function for `module.name`, a function made at import (as
    `serialize, deserialize, get = registry.functions(...)` are), or None."""
    import importlib
    import inspect

    try:
        value = getattr(importlib.import_module(module.path), name)
        signature = inspect.signature(value)
    except Exception:  # noqa: BLE001 - not a function Python can describe: leave it out
        return None
    if not inspect.isfunction(value):
        return None
    parameters = griffe.Parameters(
        *(
            griffe.Parameter(
                p.name,
                kind=griffe.ParameterKind(p.kind.description),
                default=None if p.default is p.empty else repr(p.default),
            )
            for p in signature.parameters.values()
        )
    )
    function = griffe.Function(name, parameters=parameters, parent=module)
    function.docstring = griffe.Docstring(
        indent_examples(inspect.getdoc(value) or ""),
        parent=function,
        parser=getattr(agent, "docstring_parser", None),
        parser_options=getattr(agent, "docstring_options", None),
    )
    return function


class RuntimeDocstrings(griffe.Extension):
    """Fills the docstring of a module-level class or function that has none in
    its source but gets one at import (`Cls.__doc__ = TEMPLATE.format(...)`), and
    adds the functions of a module's `__all__` that are made at import."""

    def on_module_members(self, *, node, mod, agent, **kwargs):
        names = mod.members["__all__"].value if "__all__" in mod.members else None
        if names is None:
            return
        for name in (str(n).strip("'\"") for n in getattr(names, "elements", [])):
            if name not in mod.members:
                function = _runtime_function(mod, name, agent)
                if function is not None:
                    mod.set_member(name, function)

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
