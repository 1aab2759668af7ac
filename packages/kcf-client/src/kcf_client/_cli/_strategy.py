"""Which port strategy ``kcf`` uses for a kernelspec, and why (``kcf start NAME``,
``kcf kernelspec list``): one place, so the listing says what starting will do."""

from __future__ import annotations

import os
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
    """The strategy for ``spec`` when ``--ports`` is not given, with the reason.

    A kernel that :func:`kcf_spec.dialect_for_kernelspec` knows to speak a JEP 66 dialect
    (xeus-python, ark, a kernelspec that asks for one, protocol >= 5.6) gets the handshake in
    that dialect; any other follows :func:`kcf_kernel.default_port_strategy`, as
    :func:`kcf_kernel.launch_kernel` does.

    Raises:
        KernelSpecError: its metadata names an unknown handshake dialect.
    """
    from kcf_kernel import KernelSpecError, default_port_strategy
    from kcf_spec import dialect_for_kernelspec

    version = spec.kernel_protocol_version
    try:
        dialect = dialect_for_kernelspec(spec.argv, spec.language, spec.metadata, version)
    except ValueError as exc:
        raise KernelSpecError(
            spec.resource_dir / "kernel.json", "/metadata/kcf/handshake_dialect", str(exc)
        ) from None
    if dialect is not None:
        return Choice("handshake", dialect, _why_dialect(spec, dialect))
    template = spec.command()
    strategy = default_port_strategy(template, spec)
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


def _why_dialect(spec: KernelSpec, dialect: str) -> str:
    """Which part of :func:`kcf_spec.dialect_for_kernelspec`'s rule chose ``dialect``."""
    kcf_meta = spec.metadata.get("kcf")
    if isinstance(kcf_meta, dict) and "handshake_dialect" in kcf_meta:
        return f"its metadata asks for the {dialect} handshake (metadata.kcf.handshake_dialect)"
    if dialect == "jupyter" and spec.protocol_at_least(5, 6):
        return (
            f"it declares kernel_protocol_version {spec.kernel_protocol_version} (>= 5.6: "
            "the JEP 66 handshake as jupyter_client documents it)"
        )
    program = os.path.basename(spec.argv[0])
    if "-m" in spec.argv[:-1]:
        program = spec.argv[spec.argv.index("-m") + 1]
    return f"{program} is known to speak the JEP 66 handshake in the {dialect} dialect"
