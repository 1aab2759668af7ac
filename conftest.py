"""Test-suite wide policy and fixtures.

A missing real part fails in CI and skips only on a developer machine.

``.ci/run`` sets ``KCF_REQUIRE_REAL_PARTS=1``; there, a test that cannot find its real part
(node + ajv, sshd, ipykernel, jupyter-console) fails. Elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest
import realparts  # tests/realparts.py: the one rule for absent real parts

if TYPE_CHECKING:
    import kcf_kernel


def pytest_configure(config: pytest.Config) -> None:
    """Give the children back the stop signals a background job or ``nohup`` ignores.

    An ignored signal stays ignored across ``exec``: started as a background job (SIGINT) or
    under ``nohup`` (SIGHUP), every program a test starts would ignore the very signals some
    tests send it on purpose (a handled signal is reset to the default by ``exec`` instead).
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    sighup = getattr(signal, "SIGHUP", None)
    if sighup is not None and signal.getsignal(sighup) is signal.SIG_IGN:
        signal.signal(sighup, signal.SIG_DFL)


@pytest.fixture(scope="session")
def missing_real_part() -> Callable[[str], NoReturn]:
    """Call with a reason when a real part is absent: fails in CI, skips elsewhere."""
    return realparts.missing_real_part


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
        proc.close(timeout=5)
