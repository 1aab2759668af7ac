"""Which port strategy a kernel gets: kcf_kernel's rule, unless the kernelspec forces one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kcf_kernel import KernelSpec, default_port_strategy

if TYPE_CHECKING:
    from kcf_kernel import PortStrategy

__all__ = ["STRATEGIES", "choose_strategy"]

#: The strategies a kernelspec's provisioner config may force (``port_strategy``).
STRATEGIES: tuple[PortStrategy, ...] = ("kernel", "reserve", "handshake", "given")


def _spec(argv: Sequence[str], jupyter_spec: Any) -> KernelSpec | None:
    """kcf_kernel's view of a jupyter_client ``KernelSpec`` (what the rule reads)."""
    if jupyter_spec is None:
        return None
    version = getattr(jupyter_spec, "kernel_protocol_version", None)
    metadata = getattr(jupyter_spec, "metadata", None)
    return KernelSpec(
        name=str(getattr(jupyter_spec, "name", "") or ""),
        argv=tuple(argv),
        display_name=str(getattr(jupyter_spec, "display_name", "") or ""),
        language=str(getattr(jupyter_spec, "language", "") or ""),
        resource_dir=Path(getattr(jupyter_spec, "resource_dir", "") or "."),
        metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
        kernel_protocol_version=str(version) if version else None,
    )


def choose_strategy(
    argv: Sequence[str], forced: str | None = None, kernel_spec: Any = None
) -> PortStrategy:
    """The port strategy for a kernel started with ``argv``.

    ``forced`` (the kernelspec's ``port_strategy``) wins. Otherwise
    :func:`kcf_kernel.default_port_strategy` decides: ipykernel gets ``"kernel"`` (it binds
    port 0 and rewrites the file), JEP 66 kernels ``"handshake"``, every other kernel
    ``"reserve"``.

    Args:
        argv: the kernelspec's command template.
        forced: a strategy to use instead of the rule.
        kernel_spec: the jupyter_client ``KernelSpec`` (its ``kernel_protocol_version``).

    Raises:
        ValueError: ``forced`` is not one of :data:`STRATEGIES`.

    .. versionadded:: 0.2.0
    """
    if forced:
        if forced not in STRATEGIES:
            raise ValueError(f"port_strategy {forced!r} is not one of {', '.join(STRATEGIES)}")
        return forced
    return default_port_strategy(argv, _spec(argv, kernel_spec))
