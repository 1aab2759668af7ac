"""Public names imported on first use (PEP 562), for the ``__init__`` of every kcf package.

A package lists each public name and the private module that defines it; importing the
package then costs next to nothing (``kcf --version`` must not pay for zmq, json or
dataclasses). Type checkers and documentation tools see the real imports, which each
``__init__`` keeps under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import importlib
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds at every start
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["attach"]


def attach(
    package: str, names: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` that load ``names`` lazily.

    Args:
        package: the package's ``__name__``.
        names: each public name and the submodule (relative, ``"_wire"``) that defines it.
        public: the package's ``__all__`` (``dir()`` lists it before anything is loaded).

    Returns:
        ``(__getattr__, __dir__)``: assign them in the package's ``__init__``. A name is
        looked up once, then kept in the package's namespace.
    """

    def getattr_(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def dir_() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return getattr_, dir_
