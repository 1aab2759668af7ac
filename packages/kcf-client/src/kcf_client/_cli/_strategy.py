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
    """The strategy :func:`kcf_kernel.launch_kernel` follows for ``spec`` when ``--ports``
    is not given (:func:`kcf_kernel.default_port_strategy`), with the reason."""
    from kcf_kernel import default_port_strategy

    template = spec.command()
    strategy = default_port_strategy(template, spec)
    # The handshake dialect a kernelspec's kernel reads (xeus-python, ark...) is decided
    # here once kcf_spec.dialect_for_kernelspec is on main (the `dialects` branch).
    version = spec.kernel_protocol_version
    if strategy == "kernel":
        why = "it binds port 0 itself and writes its ports back (ipykernel, kcf's example kernel)"
    elif strategy == "handshake":
        if any("{registration_file}" in a for a in template):
            why = "its argv takes a {registration_file} (JEP 66)"
        else:
            why = f"it declares kernel_protocol_version {version} (>= 5.5, JEP 66)"
    else:
        declared = f"declares protocol {version}" if version else "declares no protocol version"
        why = f"it {declared} and does not choose its own ports: kcf chooses and reserves them"
    return Choice(strategy, None, why)
