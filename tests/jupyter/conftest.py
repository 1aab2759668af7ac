"""Fixtures of the Jupyter tests: the notebook runner (shared with benchmarks/bench_jupyter.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


def load_notebooks() -> ModuleType:
    """``tests/jupyter/notebooks.py`` (``jupyter`` is taken as a top-level module name)."""
    spec = importlib.util.spec_from_file_location(
        "kcf_test_notebooks", Path(__file__).with_name("notebooks.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def notebooks() -> ModuleType:
    """The notebook runner module."""
    return load_notebooks()
