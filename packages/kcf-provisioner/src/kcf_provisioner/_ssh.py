"""``kcf-ssh-provisioner``: jupyter_client's provisioner seam over
:func:`kcf_client.remote.start_remote_kernel`.

A kernelspec selects it with (``kcf kernelspec install --ssh HOST NAME`` writes this)::

    "argv": ["python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
    "metadata": {"kernel_provisioner": {
        "provisioner_name": "kcf-ssh-provisioner",
        "config": {"host": "me@gpu-box", "remote_python": "/opt/py/bin/python", "grace": 60}}}

The kernelspec's ``argv`` is the kernel's command on the host (``{connection_file}`` filled in
there by the nanny), unless ``config.remote_kernelspec`` names a kernelspec on the host.
KernelManager gets the *local* connection info (127.0.0.1, the forwarded ports, the kernel's
key); signals go to the remote kernel's process group through the nanny.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from kcf_client.remote import RemoteKernel, RemoteKernelError, start_remote_kernel
from traitlets import Bool, Float, Unicode

from ._provisioner import hand_over

if TYPE_CHECKING:
    from jupyter_client.connect import KernelConnectionInfo

__all__ = ["SSHProvisioner", "SSH_PROVISIONER_NAME"]

#: The entry-point name (``metadata.kernel_provisioner.provisioner_name``).
SSH_PROVISIONER_NAME = "kcf-ssh-provisioner"

_SIGNALS = {signal.SIGINT: "interrupt", signal.SIGTERM: "terminate", signal.SIGKILL: "kill"}


class SSHProvisioner(KernelProvisionerBase):
    """A kernel provisioner that starts each kernel on another host over SSH
    (:func:`kcf_client.remote.start_remote_kernel`), registered as ``kcf-ssh-provisioner``.

    Configuration (the kernelspec's ``metadata.kernel_provisioner.config``): ``host``
    (required), ``remote_python``, ``remote_kernelspec``, ``grace``, ``launch_timeout``, and
    the SSH options ``backend``, ``ssh_config``, ``known_hosts``, ``identity_file``,
    ``accept_new`` (default ``False``: an unknown host key is refused).

    .. versionadded:: 0.2.0
    """

    host = Unicode("", config=True, help="[user@]host[:port] or an ~/.ssh/config alias.")
    remote_python = Unicode(
        "python3", config=True, help="The Python on the host that has kcf-kernel."
    )
    remote_kernelspec = Unicode(
        None,
        allow_none=True,
        config=True,
        help="A kernelspec on the host to start instead of this kernelspec's argv.",
    )
    grace = Float(60.0, config=True, help="Seconds the kernel outlives a dropped connection.")
    launch_timeout = Float(
        60.0, config=True, help="Seconds for connecting and for the kernel's ports each."
    )
    backend = Unicode("auto", config=True, help="auto, openssh or paramiko.")
    ssh_config = Unicode(None, allow_none=True, config=True, help="The ssh configuration file.")
    known_hosts = Unicode(
        None, allow_none=True, config=True, help="A known_hosts file instead of the configured."
    )
    identity_file = Unicode(None, allow_none=True, config=True, help="A private key to try.")
    accept_new = Bool(False, config=True, help="Trust a host key seen for the first time.")

    kernel: RemoteKernel | None = None

    @property
    def has_process(self) -> bool:
        """Whether a remote kernel is being managed."""
        return self.kernel is not None

    async def poll(self) -> int | None:
        """``None`` while the kernel runs (also while a dropped connection heals), else its
        exit status (0 when unknown: lost with the connection)."""
        if self.kernel is None:
            return 0
        if self.kernel.is_alive():
            return None
        status = self.kernel.exit_status
        return status if status is not None else 0

    async def wait(self) -> int | None:
        """Wait (without blocking the loop) until the kernel is gone; its exit status."""
        kernel = self.kernel
        if kernel is None:
            return 0
        while not await asyncio.to_thread(kernel.wait, 0.5):
            pass
        return await self.poll()

    async def send_signal(self, signum: int) -> None:
        """SIGINT, SIGTERM and SIGKILL go to the remote kernel's process group (the nanny
        sends them); others are not forwarded (logged)."""
        name = _SIGNALS.get(signal.Signals(signum))
        if self.kernel is None or not self.kernel.is_alive():
            return
        if name is None:
            self.log.warning("kcf-ssh-provisioner: signal %s is not forwarded", signum)
            return
        try:
            await asyncio.to_thread(self.kernel.signal, name)  # type: ignore[arg-type]
        except RemoteKernelError as exc:
            self.log.warning("kcf-ssh-provisioner: %s", exc)

    async def terminate(self, restart: bool = False) -> None:
        """SIGTERM to the remote kernel's process group."""
        await self.send_signal(signal.SIGTERM)

    async def kill(self, restart: bool = False) -> None:
        """SIGKILL to the remote kernel's process group."""
        await self.send_signal(signal.SIGKILL)

    async def cleanup(self, restart: bool = False) -> None:
        """End the remote kernel (if it still runs), the SSH connection and its forwards;
        remove the local connection file (the nanny removes the remote one)."""
        kernel, self.kernel = self.kernel, None
        if kernel is not None:
            await asyncio.to_thread(kernel.close)

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Choose the local connection file's path; keep the kernelspec's argv as the
        remote template (``{connection_file}`` is the nanny's to fill in)."""
        km = self.parent
        extra = kwargs.pop("extra_arguments", [])
        kwargs.pop("transport_encryption", None)
        if not self.host:
            from ._kernelspecs import KernelSpecFileError

            where = Path(self.kernel_spec.resource_dir or ".") / "kernel.json"
            raise KernelSpecFileError(
                "expected [user@]host[:port] (kcf-ssh-provisioner needs a host)",
                path=where,
                pointer="/metadata/kernel_provisioner/config/host",
            )
        if km is not None and not km.connection_file:
            from kcf_kernel import new_kernel_id, runtime_dir

            km.connection_file = str(runtime_dir() / f"kernel-{new_kernel_id()}-ssh.json")
        resource_dir = self.kernel_spec.resource_dir or ""
        cmd = [a.replace("{resource_dir}", resource_dir) for a in self.kernel_spec.argv]
        launch: dict[str, Any] = await super().pre_launch(cmd=[*cmd, *extra], **kwargs)
        return launch

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """Start the kernel on the host; return the local connection info (the forwards)."""
        km = self.parent
        env = {str(k): str(v) for k, v in (self.kernel_spec.env or {}).items()}
        env.update({k: v for k, v in (kwargs.get("env") or {}).items() if k.startswith("JPY_")})
        kernel = await asyncio.to_thread(
            start_remote_kernel,
            self.host,
            remote_python=self.remote_python,
            kernelspec=self.remote_kernelspec,
            argv=None if self.remote_kernelspec else cmd,
            env=env,
            cwd=kwargs.get("cwd"),
            backend=self.backend,  # type: ignore[arg-type]
            grace=self.grace,
            timeout=self.launch_timeout,
            connection_file=km.connection_file if km is not None else None,
            accept_new=self.accept_new,
            ssh_config=self.ssh_config,
            known_hosts=self.known_hosts,
            identity_file=self.identity_file,
        )
        self.kernel = kernel
        info = kernel.info
        assert info is not None
        self.connection_info = hand_over(km, info)
        return self.connection_info

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        """Time for the remote kernel to exit after a shutdown request (a round trip more)."""
        return max(recommended, 10.0)
