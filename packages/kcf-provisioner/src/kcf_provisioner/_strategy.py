"""Which port strategy a kernel gets: the one place the provisioner decides it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kcf_kernel import PortStrategy

__all__ = ["STRATEGIES", "choose_strategy"]

#: The strategies a kernelspec's provisioner config may force (``port_strategy``).
STRATEGIES: tuple[PortStrategy, ...] = ("kernel", "reserve", "handshake", "given")


def choose_strategy(argv: Sequence[str], forced: str | None = None) -> PortStrategy:
    """The port strategy for a kernel started with ``argv``.

    ``forced`` (the kernelspec's ``port_strategy``) wins. Otherwise ipykernel gets
    ``"kernel"`` (it binds port 0 and rewrites the file with its real ports), every other
    kernel ``"reserve"`` (ports reserved across kcf processes until the kernel listens).

    Raises:
        ValueError: ``forced`` is not one of :data:`STRATEGIES`.

    .. versionadded:: 0.2.0
    """
    if forced:
        if forced not in STRATEGIES:
            raise ValueError(f"port_strategy {forced!r} is not one of {', '.join(STRATEGIES)}")
        return forced
    # TODO(launch): replace this local rule by kcf_kernel's default-strategy rule (the one
    # function that also knows JEP 66 kernels and kernelspecs) once it is merged.
    names = {os.path.basename(a) for a in argv}
    if "ipykernel_launcher" in names or "ipykernel" in names:
        return "kernel"
    return "reserve"
