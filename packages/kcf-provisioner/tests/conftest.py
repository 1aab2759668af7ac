"""Kernelspecs that select kcf-provisioner, in a private kernel dir."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

IPYKERNEL_ARGV = [
    sys.executable,
    "-m",
    "ipykernel_launcher",
    "-f",
    "{connection_file}",
    "--HistoryManager.enabled=False",
]


def write_spec(
    kernel_dir: Path,
    name: str,
    argv: list[str],
    *,
    provisioner: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Write ``kernel_dir/name/kernel.json``; return its directory."""
    d = kernel_dir / name
    d.mkdir(parents=True, exist_ok=True)
    metadata: dict[str, Any] = dict(extra.pop("metadata", {}))
    if provisioner is not None:
        metadata["kernel_provisioner"] = provisioner
    doc = {"argv": argv, "display_name": name, "language": "python", "metadata": metadata}
    doc.update(extra)
    (d / "kernel.json").write_text(json.dumps(doc, indent=1))
    return d


@pytest.fixture
def kernel_dir(tmp_path: Path) -> Path:
    """An empty kernelspec directory."""
    d = tmp_path / "kernels"
    d.mkdir()
    return d


@pytest.fixture
def make_km(kernel_dir: Path, runtime: Path) -> Iterator[Callable[..., Any]]:
    """Make a KernelManager for a kernelspec written to ``kernel_dir`` (kcf-provisioner by
    default); every manager made is shut down at the end."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager
    except ImportError:
        from realparts import missing_real_part

        missing_real_part("jupyter_client is not installed")
    made: list[Any] = []

    def make(
        name: str = "kcf-py",
        argv: list[str] | None = None,
        config: dict[str, Any] | None = None,
        provisioner: str = "kcf-provisioner",
        **km_kwargs: Any,
    ) -> Any:
        write_spec(
            kernel_dir,
            name,
            argv or IPYKERNEL_ARGV,
            provisioner={"provisioner_name": provisioner, "config": config or {}},
            metadata={"supported_encryption": ["curve"]},
        )
        ksm = KernelSpecManager(kernel_dirs=[str(kernel_dir)])
        km = KernelManager(kernel_name=name, kernel_spec_manager=ksm, **km_kwargs)
        made.append(km)
        return km

    yield make
    for km in made:
        if km.has_kernel:
            km.shutdown_kernel(now=True)


@pytest.fixture
def spec_writer() -> Callable[..., Path]:
    """:func:`write_spec`, for test modules (conftest is not importable by name)."""
    return write_spec


@pytest.fixture
def ipykernel_argv() -> list[str]:
    """ipykernel's argv template, with this interpreter."""
    return list(IPYKERNEL_ARGV)
