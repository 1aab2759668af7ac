"""Which port strategy ``kcf`` uses for a kernelspec, and why (``kcf start NAME``,
``kcf kernelspec list``): one place, so the listing says what starting will do."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from kcf_kernel import KernelSpec, PortStrategy

__all__ = ["Choice", "choose"]


class Choice(NamedTuple):
    """A port strategy for a kernelspec, its handshake dialect (``None``: the default, or no
    handshake), and the reason in words."""

    strategy: PortStrategy
    dialect: str | None
    why: str


def choose(spec: KernelSpec) -> Choice:
    """The strategy for ``spec`` when ``--ports`` is not given, with the reason: kcf's one
    rule, :func:`kcf_kernel.choose_port_strategy` (the handshake, in its dialect, for a
    kernel :func:`kcf_spec.choose_dialect` knows to speak JEP 66; ``"kernel"`` for ipykernel
    and kcf's example kernel; ``"reserve"`` otherwise), as :func:`kcf_kernel.launch_kernel`
    uses it.

    Raises:
        KernelSpecError: its metadata names an unknown handshake dialect.
    """
    from kcf_kernel import KernelSpecError, choose_port_strategy

    try:
        strategy, dialect, why = choose_port_strategy(spec)
    except ValueError as exc:
        raise KernelSpecError(
            spec.resource_dir / "kernel.json", "/metadata/kcf/handshake_dialect", str(exc)
        ) from None
    return Choice(strategy, dialect, why)
