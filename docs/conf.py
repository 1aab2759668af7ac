"""Sphinx configuration for the kcf documentation."""

from __future__ import annotations

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


def setup(app: object) -> None:
    app.connect("autodoc-process-bases", _public_bases)  # type: ignore[attr-defined]
