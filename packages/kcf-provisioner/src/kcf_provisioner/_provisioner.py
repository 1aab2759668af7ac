"""``KcfProvisioner``: jupyter_client's provisioner seam over kcf's launch design."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from kcf_kernel import launch_kernel, runtime_dir
from kcf_spec import Channel, ConnectionInfo
from traitlets import Float, Unicode

from ._handles import AttachedKernel, KernelHandle, LocalKernel
from ._strategy import choose_strategy

if TYPE_CHECKING:
    from jupyter_client.connect import KernelConnectionInfo
    from kcf_kernel import PortStrategy

__all__ = ["KcfProvisioner", "PROVISIONER_NAME"]

#: The entry-point name (``metadata.kernel_provisioner.provisioner_name``).
PROVISIONER_NAME = "kcf-provisioner"

# Popen keywords KernelManager users pass that launch_kernel takes under the same name.
_STREAMS = ("stdin", "stdout", "stderr")


class KcfProvisioner(KernelProvisionerBase):
    """A kernel provisioner that starts local kernels through :func:`kcf_kernel.launch_kernel`.

    Registered as ``kcf-provisioner`` (entry-point group
    ``jupyter_client.kernel_provisioners``). Select it for one kernel in its kernelspec
    (``metadata.kernel_provisioner``), or for every kernel with
    ``JUPYTER_DEFAULT_PROVISIONER_NAME=kcf-provisioner``.

    Each launch gets fresh ports without a race, by :func:`kcf_kernel.default_port_strategy`:
    ipykernel binds port 0 itself and rewrites the file (``"kernel"``), JEP 66 kernels report
    theirs (``"handshake"``), other kernels get ports reserved across kcf processes until
    they listen (``"reserve"``). The kernelspec's provisioner config may force a strategy
    (``{"port_strategy": "reserve"}``) and set ``launch_timeout``. The connection file, ipc
    sockets and reservations are removed by :meth:`cleanup` on every exit path, also after a
    crash; signals go to the kernel's process group.

    .. versionadded:: 0.2.0
    """

    port_strategy = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Force a port strategy: kernel, reserve, handshake or given (default: chosen "
        "per kernel).",
    )
    launch_timeout = Float(
        60.0, config=True, help="Seconds a kernel has to report or bind its ports."
    )

    process: KernelHandle | None = None
    strategy: PortStrategy | None = None
    _last: KernelHandle | None = None
    _fixed_ports: dict[str, int] | None = None
    _connection_file: Path | None = None
    _launch_info: ConnectionInfo | None = None

    # -- the process --------------------------------------------------------------------

    @property
    def has_process(self) -> bool:
        """Whether a kernel process is being managed."""
        return self.process is not None

    async def poll(self) -> int | None:
        """``None`` while the kernel runs, else its exit status (0 when none was started)."""
        if self.process is None:
            return 0
        if self.process.is_alive():
            return None
        return self.process.exit_status()

    async def wait(self) -> int | None:
        """Wait (without blocking the loop) for the kernel to exit; reap it, kill what is
        left of its process group, remove its files. Return its exit status."""
        proc = self.process
        if proc is None:
            return 0
        while proc.is_alive():
            await asyncio.sleep(0.05)
        code = proc.exit_status()
        proc.close(timeout=0)
        self._last, self.process = proc, None
        return code

    async def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the kernel's process group (the kernel and its children)."""
        if self.process is not None:
            self.process.signal_group(signum)

    async def terminate(self, restart: bool = False) -> None:
        """SIGTERM to the kernel's process group."""
        await self.send_signal(signal.SIGTERM)

    async def kill(self, restart: bool = False) -> None:
        """SIGKILL to the kernel's process group."""
        if self.process is not None:
            self.process.kill()

    async def cleanup(self, restart: bool = False) -> None:
        """Release reservations and remove the connection file and ipc sockets this
        provisioner wrote (the kernel has exited: KernelManager waits first)."""
        for proc in (self.process, self._last):
            if proc is not None and not proc.is_alive():
                proc.close(timeout=0)
        if not restart:
            self._last = None

    # -- launching ------------------------------------------------------------------------

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Choose the connection file, the key, the CURVE keys and the port strategy; build
        the command (kernelspec argv, ``{connection_file}`` kept for the launcher)."""
        km = self.parent
        extra_arguments = kwargs.pop("extra_arguments", [])
        encryption = kwargs.pop("transport_encryption", None)
        if km is None:
            cmd = [*self.kernel_spec.argv, *extra_arguments]
            return await super().pre_launch(cmd=cmd, **kwargs)
        self._prepare_curve(km, encryption)
        if self._fixed_ports is None:  # the ports the user configured, kept on restarts
            self._fixed_ports = {c.port_key: getattr(km, c.port_key) for c in Channel}
        for name, port in self._fixed_ports.items():
            setattr(km, name, port)  # fresh ports on every (re)start for the others
        if not km.connection_file:
            km.connection_file = str(runtime_dir() / f"kernel-{self.kernel_id}.json")
        self._connection_file = Path(km.connection_file).absolute()
        cmd = km.format_kernel_cmd(extra_arguments=extra_arguments)
        self.strategy = choose_strategy(self.kernel_spec.argv, self.port_strategy, self.kernel_spec)
        extras: dict[str, Any] = {}
        session_name = kwargs.get("env", {}).get("JPY_SESSION_NAME")
        if session_name:
            extras["jupyter_session"] = session_name
        curve = (km.curve_publickey, km.curve_secretkey)
        self._launch_info = ConnectionInfo.from_ports(
            {c: getattr(km, c.port_key) for c in Channel},
            ip=km.ip,
            transport=km.transport,
            key=km.session.key,
            signature_scheme=km.session.signature_scheme,
            kernel_name=km.kernel_name,
            curve_publickey=curve[0].decode("ascii") if curve[0] and curve[1] else None,
            curve_secretkey=curve[1].decode("ascii") if curve[0] and curve[1] else None,
            extras=extras,
        )
        return await super().pre_launch(cmd=cmd, **kwargs)

    def _prepare_curve(self, km: Any, encryption: str | None) -> None:
        """CURVE keys as LocalProvisioner makes them: when the policy asks and the kernel
        supports them (or they are required); the same keys again on restart."""
        policy_of = getattr(km, "_transport_encryption_policy", None)
        if policy_of is None:  # jupyter_client before transport_encryption
            return
        policy = policy_of(encryption)
        if policy == "disabled":
            return
        wanted = policy == "required" or km._kernel_supports_curve_encryption()
        if wanted and km.curve_publickey is None:
            import zmq

            km.curve_publickey, km.curve_secretkey = zmq.curve_keypair()

    def _template(self, cmd: list[str]) -> list[str]:
        """``cmd`` with the connection file's path turned back into ``{connection_file}``."""
        assert self._connection_file is not None
        names = {str(self._connection_file), os.path.realpath(self._connection_file)}
        out = []
        for arg in cmd:
            for name in names:
                arg = arg.replace(name, "{connection_file}")
            out.append(arg)
        return out

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """Start the kernel; return its real connection (KernelManager reconciles it)."""
        info, path, strategy = self._launch_info, self._connection_file, self.strategy
        if info is None or path is None or strategy is None:
            raise RuntimeError("launch_kernel before pre_launch")
        streams = {k: kwargs[k] for k in _STREAMS if k in kwargs}
        proc = await asyncio.to_thread(
            launch_kernel,
            self._template(cmd),
            connection=info,
            connection_file=path,
            env=kwargs.get("env"),
            cwd=kwargs.get("cwd"),
            ports=strategy,
            timeout=self.launch_timeout,
            **streams,
        )
        self.process = LocalKernel(proc)
        # KernelManager keeps its own copy and, finding our file already written, compares
        # without loading: give it the real ports first.
        self.connection_info = hand_over(self.parent, proc.info)
        return self.connection_info

    # -- persistence --------------------------------------------------------------------

    async def get_provisioner_info(self) -> dict[str, Any]:
        """What Jupyter Server persists to re-attach: the base fields plus the kernel's pid,
        process group, start time, connection file and strategy."""
        info: dict[str, Any] = await super().get_provisioner_info()
        info["connection_info"] = _json_info(self.connection_info)
        if self.process is not None:
            info.update(self.process.identity())
        info["connection_file"] = (
            os.fspath(self._connection_file) if self._connection_file else None
        )
        info["strategy"] = self.strategy
        return info

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        """Re-attach to a kernel another process started (from :meth:`get_provisioner_info`).

        The kernel is then managed by pid and process group; its connection file is removed
        by :meth:`cleanup` once it has exited, if it still holds this kernel's key.
        """
        await super().load_provisioner_info(provisioner_info)
        info = ConnectionInfo.from_dict(_json_info(self.connection_info), profile="connect")
        self.connection_info = _jupyter_info(info)
        path = provisioner_info.get("connection_file")
        self._connection_file = Path(path) if path else None
        self.strategy = provisioner_info.get("strategy")
        if "pid" in provisioner_info:
            self.process = AttachedKernel.from_identity(
                provisioner_info, info=info, connection_file=self._connection_file
            )

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        """KernelManager's recommendation."""
        return recommended


def hand_over(km: Any, info: ConnectionInfo) -> KernelConnectionInfo:
    """``info`` as KernelManager ``km`` takes it, loaded into ``km`` (when there is one).

    The connection file is the provisioner's (already written): loaded, KernelManager's view
    matches and it does not write its own. ``load_connection_info`` fills only ports that are
    0, so they are cleared first: a restart must not keep the last kernel's.
    """
    data = _jupyter_info(info)
    if km is not None:
        for channel in Channel:
            setattr(km, channel.port_key, 0)
        km.load_connection_info(data)
    return data


def _jupyter_info(info: ConnectionInfo) -> KernelConnectionInfo:
    """The dict KernelManager reconciles: the file's fields with ``key`` as ``bytes``."""
    data: dict[str, Any] = info.to_dict()
    data["key"] = info.key
    return data  # type: ignore[return-value]  # KernelConnectionInfo is that dict


def _json_info(info: KernelConnectionInfo) -> dict[str, Any]:
    """The connection as JSON-able fields (``key`` as text, no ``session``)."""
    data: dict[str, Any] = dict(info)
    key = data.get("key")
    if isinstance(key, bytes):
        data["key"] = key.decode("utf-8")
    data.pop("session", None)
    return data
