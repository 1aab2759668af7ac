"""Shared fixtures: a private runtime dir per test, and launched kernels always cleaned up."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import kcf_kernel
import pytest


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``JUPYTER_RUNTIME_DIR`` (not created yet) for this test."""
    path = tmp_path / "runtime"
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(path))
    return path


@pytest.fixture
def kernels() -> Iterator[list[kcf_kernel.KernelProcess]]:
    """A list to put launched kernels in; each is closed (killed, files removed) at the end."""
    procs: list[kcf_kernel.KernelProcess] = []
    yield procs
    for proc in procs:
        proc.close(timeout=2)


def _listing(path: Path) -> list[str]:
    if not path.exists():
        return []
    return sorted(
        os.path.relpath(os.path.join(d, n), path) for d, ds, fs in os.walk(path) for n in ds + fs
    )


@pytest.fixture
def listing() -> Callable[[Path], list[str]]:
    """Every entry under a path, relative and sorted (for "nothing left behind" checks)."""
    return _listing
