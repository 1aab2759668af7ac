"""``kcf-slurm-provisioner``: jupyter_client's provisioner seam over
:func:`kcf_client.slurm.start_slurm_kernel`.

A kernelspec selects it with (``kcf kernelspec install --slurm NAME`` writes this)::

    "metadata": {"kernel_provisioner": {
        "provisioner_name": "kcf-slurm-provisioner",
        "config": {"slurm_args": ["--partition=gpu", "--time=1:00:00"], "grace": 60}}}

The kernelspec's ``argv`` is run on the node by the nanny (``{connection_file}`` filled in
there). The job's state and pending reason are logged on the provisioner's log as they change.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import TYPE_CHECKING, Any

from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from kcf_client.slurm import JobStatus, SlurmError, SlurmKernel, SlurmOptions, start_slurm_kernel
from traitlets import Bool, Float, List, Unicode

from ._provisioner import hand_over

if TYPE_CHECKING:
    from jupyter_client.connect import KernelConnectionInfo

__all__ = ["SlurmProvisioner", "SLURM_PROVISIONER_NAME"]

#: The entry-point name (``metadata.kernel_provisioner.provisioner_name``).
SLURM_PROVISIONER_NAME = "kcf-slurm-provisioner"

_SIGNALS = {signal.SIGINT: "interrupt", signal.SIGTERM: "terminate", signal.SIGKILL: "kill"}


class SlurmProvisioner(KernelProvisionerBase):
    """A kernel provisioner that runs each kernel in its own Slurm job
    (:func:`kcf_client.slurm.start_slurm_kernel`), registered as ``kcf-slurm-provisioner``.

    Configuration (the kernelspec's ``metadata.kernel_provisioner.config``): ``slurm_args``
    (sbatch/srun arguments, one per item), ``python`` (the Python on the nodes), ``use_srun``,
    ``registration_ip``, ``start_timeout``, ``grace``.

    .. versionadded:: 0.2.0
    """

    slurm_args = List(Unicode(), default_value=[], config=True, help="sbatch/srun arguments.")
    python = Unicode(sys.executable, config=True, help="The Python on the nodes (kcf-kernel).")
    use_srun = Bool(False, config=True, help="Run the nanny with srun instead of sbatch.")
    registration_ip = Unicode(
        None, allow_none=True, config=True, help="Address the node calls back."
    )
    start_timeout = Float(300.0, config=True, help="Seconds from submission to a ready kernel.")
    grace = Float(60.0, config=True, help="Seconds the kernel outlives a lost launcher.")

    kernel: SlurmKernel | None = None

    @property
    def has_process(self) -> bool:
        """Whether a kernel's job is being managed."""
        return self.kernel is not None

    async def poll(self) -> int | None:
        """``None`` while the kernel runs, else its exit status."""
        if self.kernel is None:
            return 0
        if self.kernel.is_alive():
            return None
        status = self.kernel.exit_status
        return status if status is not None else 0

    async def wait(self) -> int | None:
        """Wait (without blocking the loop) until the kernel is gone; its exit status."""
        if self.kernel is None:
            return 0
        while self.kernel.is_alive():
            await asyncio.sleep(0.05)
        return await self.poll()

    async def send_signal(self, signum: int) -> None:
        """SIGINT, SIGTERM and SIGKILL go to the kernel's process group, via the nanny."""
        name = _SIGNALS.get(signal.Signals(signum))
        if self.kernel is None or name is None or not self.kernel.is_alive():
            return
        try:
            await asyncio.to_thread(self.kernel.signal, name)  # type: ignore[arg-type]
        except SlurmError as exc:
            self.log.warning("kcf-slurm-provisioner: %s", exc)

    async def terminate(self, restart: bool = False) -> None:
        """SIGTERM to the kernel's process group."""
        await self.send_signal(signal.SIGTERM)

    async def kill(self, restart: bool = False) -> None:
        """SIGKILL to the kernel's process group."""
        await self.send_signal(signal.SIGKILL)

    async def cleanup(self, restart: bool = False) -> None:
        """End the job (``scancel``), remove the connection file and the job's output."""
        kernel, self.kernel = self.kernel, None
        if kernel is not None:
            await asyncio.to_thread(kernel.close)

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Choose the connection file's path; keep the kernelspec's argv as the template."""
        km = self.parent
        extra = kwargs.pop("extra_arguments", [])
        kwargs.pop("transport_encryption", None)
        if km is not None and not km.connection_file:
            from kcf_kernel import new_kernel_id, runtime_dir

            km.connection_file = str(runtime_dir() / f"kernel-{new_kernel_id()}-slurm.json")
        resource_dir = self.kernel_spec.resource_dir or ""
        cmd = [a.replace("{resource_dir}", resource_dir) for a in self.kernel_spec.argv]
        launch: dict[str, Any] = await super().pre_launch(cmd=[*cmd, *extra], **kwargs)
        return launch

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """Submit the job and wait for the kernel; return its connection info."""
        km = self.parent
        env = {str(k): str(v) for k, v in (self.kernel_spec.env or {}).items()}
        env.update({k: v for k, v in (kwargs.get("env") or {}).items() if k.startswith("JPY_")})

        def report(status: JobStatus) -> None:
            self.log.info("kcf-slurm-provisioner: %s", status)

        self.kernel = await asyncio.to_thread(
            start_slurm_kernel,
            options=SlurmOptions(extra_args=tuple(self.slurm_args)),
            argv=cmd,
            env=env,
            cwd=kwargs.get("cwd"),
            python=self.python,
            use_srun=self.use_srun,
            registration_ip=self.registration_ip,
            timeout=self.start_timeout,
            grace=self.grace,
            on_status=report,
            connection_file=km.connection_file if km is not None else None,
        )
        info = self.kernel.info
        assert info is not None
        self.connection_info = hand_over(km, info)
        return self.connection_info

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        """Time for a kernel's job to end after a shutdown request (scancel follows)."""
        return max(recommended, 10.0)

    def get_stable_start_time(self, recommended: float = 10.0) -> float:
        """Time a restarted kernel must live to count as started."""
        return recommended
