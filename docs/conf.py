"""Sphinx configuration for the kcf documentation."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

from sphinx.pycode import ModuleAnalyzer

project = "kcf"
author = "kcf developers"
copyright = "2026, kcf developers"
release = version = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_class_signature = "separated"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# "Attributes:" sections become fields of their class, not entries of their own: an entry
# each would describe a property twice (once from the docstring, once as a member).
napoleon_use_ivar = True

html_theme = "furo"
html_title = "kcf"


def _public_bases(app: object, name: str, obj: object, options: object, bases: list[type]) -> None:
    """Hide private helper bases (``kcf_spec._frozen.Frozen``, ``ConnectionBase``) in the API."""
    import importlib
    import typing

    def public(base: type) -> bool:
        origin = typing.get_origin(base) or base
        module = getattr(origin, "__module__", "")
        if not module.startswith("kcf_"):
            return True
        package = importlib.import_module(module.split(".")[0])
        return origin.__name__ in getattr(package, "__all__", ())

    bases[:] = [b for b in bases if public(b)] or [object]


# An autodoc directive writes reStructuredText (``.. py:function::``, ``:param x:``) into the
# page being parsed. Inside a MyST page that text is parsed as Markdown, so it shows up raw
# and nothing is indexed. The API pages keep the short MyST form (``{autofunction}`` fences,
# written by tools/gen_api_docs.py, and by hand): each such fence is handed to the rST parser
# by rewriting it, before parsing, into an ``{eval-rst}`` block holding the same directive.
_AUTODOC_FENCE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>auto[a-z]+)\}[ \t]*(?P<arg>[^\n]*)\n"
    r"(?P<body>(?:(?!(?P=fence)[ \t]*\n).*\n)*?)"
    r"(?P=fence)[ \t]*$",
    re.MULTILINE,
)


def _autodoc_fence_to_rst(match: re.Match[str]) -> str:
    fence, name, arg = match["fence"], match["name"], match["arg"].strip()
    body = "".join(f"   {line}\n" if line.strip() else "\n" for line in match["body"].splitlines())
    return f"{fence}{{eval-rst}}\n.. {name}:: {arg}\n{body}{fence}"


def autodoc_fences_to_rst(text: str) -> str:
    """Rewrite every MyST ``{autoX}`` fence of ``text`` into an ``{eval-rst}`` block."""
    return _AUTODOC_FENCE.sub(_autodoc_fence_to_rst, text)


def _source_read(app: object, docname: str, source: list[str]) -> None:
    if "{auto" in source[0]:
        source[0] = autodoc_fences_to_rst(source[0])


def _data_docstring(
    app: object, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Document a re-exported constant by its ``#:`` comment, never by its type's docstring.

    ``kcf_kernel.SOCKET_TYPES`` is defined (with a ``#:`` comment) in a private module and
    re-exported; autodoc looks for the comment only in the package ``__init__``, then falls
    back to ``dict.__doc__``. Find the private module that defines the name and use its
    comment (or nothing).
    """
    if what not in ("data", "attribute") or "." not in name:
        return
    type_doc = inspect.getdoc(type(obj)) or ""
    if lines and "\n".join(lines).strip() != type_doc.strip():
        return  # a real docstring or comment was found
    package, _, attr = name.rpartition(".")
    comment: list[str] = []
    try:
        top = importlib.import_module(package)
    except ImportError:
        return
    for info in pkgutil.iter_modules(getattr(top, "__path__", []), prefix=f"{package}."):
        if info.name.endswith(".__main__"):
            continue  # importing it would run the command line
        module = importlib.import_module(info.name)
        if getattr(module, attr, None) is obj:
            docs = ModuleAnalyzer.for_module(info.name).find_attr_docs()
            comment = list(docs.get(("", attr), []))
            break
    lines[:] = comment


def setup(app: object) -> None:
    app.connect("autodoc-process-bases", _public_bases)  # type: ignore[attr-defined]
    app.connect("source-read", _source_read)  # type: ignore[attr-defined]
    app.connect("autodoc-process-docstring", _data_docstring)  # type: ignore[attr-defined]
