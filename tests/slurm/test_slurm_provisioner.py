"""jupyter_client's KernelManager and nbclient with ``kcf-slurm-provisioner`` on the real
one-node cluster."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from slurm import slurm_cluster

NAME = "kcf-slurm-test"


@pytest.fixture
def slurm_kernelspec(tmp_path: Path, runtime: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec (in a private JUPYTER_PATH) that selects kcf-slurm-provisioner."""
    spec_dir = tmp_path / "jupyter" / "kernels" / NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python on Slurm (test)",
        "language": "python",
        "metadata": {
            "kernel_provisioner": {
                "provisioner_name": "kcf-slurm-provisioner",
                "config": {"grace": 5, "start_timeout": 120},
            }
        },
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return NAME


class TestSlurmProvisioner:
    def test_provisioner_start_execute_restart_shutdown(
        self, slurm: slurm_cluster.SlurmCluster, slurm_kernelspec: str, runtime: Path
    ) -> None:
        """KernelManager starts the kernel in a job, executes, restarts it in a new job and
        shuts it down; no job and no connection file are left."""
        from jupyter_client.manager import KernelManager

        km = KernelManager(kernel_name=slurm_kernelspec)
        km.start_kernel()
        try:
            first = json.loads(Path(km.connection_file).read_text())["slurm_job_id"]
            assert first in slurm.job_ids()
            kc = km.client()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=60)
                reply = kc.execute_interactive("x = 6 * 7", timeout=60)
                assert reply["content"]["status"] == "ok"
            finally:
                kc.stop_channels()
            km.restart_kernel(now=False)
            second = json.loads(Path(km.connection_file).read_text())["slurm_job_id"]
            assert second != first
            slurm_cluster.wait_for(lambda: first not in slurm.job_ids(), 30, "first job gone")
            kc = km.client()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=60)
                out: list[str] = []
                reply = kc.execute_interactive(
                    "print('x' in dir())",
                    timeout=60,
                    output_hook=lambda m: out.append(m["content"].get("text", "")),
                )
                assert "False" in "".join(out)  # a fresh kernel
            finally:
                kc.stop_channels()
        finally:
            km.shutdown_kernel(now=False)
        slurm_cluster.wait_for(lambda: not slurm.job_ids(), 30, "an empty queue")
        assert not Path(km.connection_file).exists()
        assert not list(runtime.glob("kcf-slurm-*"))

    def test_provisioner_interrupt_through_nanny(
        self, slurm: slurm_cluster.SlurmCluster, slurm_kernelspec: str, tmp_path: Path
    ) -> None:
        """KernelManager.interrupt_kernel (signal mode) interrupts code on the node."""
        from jupyter_client.manager import KernelManager

        km = KernelManager(kernel_name=slurm_kernelspec)
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            marker = tmp_path / "sleeping"
            msg_id = kc.execute(f"import time; open({str(marker)!r}, 'w').close(); time.sleep(60)")
            slurm_cluster.wait_for(marker.exists, 60, "the sleep to start")
            km.interrupt_kernel()
            while True:
                reply = kc.get_shell_msg(timeout=60)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            assert reply["content"]["status"] == "error"
            assert reply["content"]["ename"] == "KeyboardInterrupt"
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        slurm_cluster.wait_for(lambda: not slurm.job_ids(), 30, "an empty queue")

    def test_provisioner_nbclient_runs_a_notebook(
        self, slurm: slurm_cluster.SlurmCluster, slurm_kernelspec: str
    ) -> None:
        """nbclient runs a notebook on a kernel in a Slurm job."""
        import nbformat
        from nbclient import NotebookClient

        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell("import os\nos.environ.get('SLURM_JOB_ID', 'none')"),
            nbformat.v4.new_code_cell("sum(range(10))"),
        ]
        NotebookClient(nb, kernel_name=slurm_kernelspec, timeout=120, startup_timeout=180).execute()
        job = nb.cells[0].outputs[0]["data"]["text/plain"].strip("'")
        assert job.isdigit()
        assert nb.cells[1].outputs[0]["data"]["text/plain"] == "45"
        slurm_cluster.wait_for(lambda: not slurm.job_ids(), 30, "an empty queue")


class TestInstallSlurmKernelspec:
    def test_install_kernelspec_found_by_jupyter_client(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The written kernelspec is found by KernelSpecManager with its provisioner and its
        Slurm arguments; a second install without replace is refused."""
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.provisioning import KernelProvisionerFactory
        from kcf_client.slurm import install_slurm_kernelspec

        kernels = tmp_path / "jupyter" / "kernels"
        path = install_slurm_kernelspec(
            "gpu-py", slurm_args=["--partition=gpu", "--gres=gpu:1"], kernels_dir=kernels
        )
        assert path == kernels / "gpu-py" / "kernel.json"
        monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
        spec = KernelSpecManager().get_kernel_spec("gpu-py")
        prov = spec.metadata["kernel_provisioner"]
        assert prov["provisioner_name"] == "kcf-slurm-provisioner"
        assert prov["config"]["slurm_args"] == ["--partition=gpu", "--gres=gpu:1"]
        assert KernelProvisionerFactory.instance().is_provisioner_available(spec)
        with pytest.raises(FileExistsError, match="gpu-py"):
            install_slurm_kernelspec("gpu-py", kernels_dir=kernels)
        install_slurm_kernelspec("gpu-py", kernels_dir=kernels, replace=True)

    @pytest.mark.parametrize("name", ["", "a b", "../x", "x/y", "..", "."])
    def test_install_kernelspec_bad_name(self, name: str, tmp_path: Path) -> None:
        """A name jupyter_client would not accept is refused before anything is written."""
        from kcf_client.slurm import SlurmOptionError, install_slurm_kernelspec

        with pytest.raises(SlurmOptionError, match="name"):
            install_slurm_kernelspec(name, kernels_dir=tmp_path)
        assert not any(tmp_path.iterdir())

    def test_kcf_kernelspec_install_slurm(self, tmp_path: Path) -> None:
        """kcf kernelspec install --slurm NAME writes the kernelspec; again without
        --replace it fails saying so."""
        import subprocess

        argv = [
            sys.executable,
            "-m",
            "kcf_client",
            "kernelspec",
            "install",
            "--slurm",
            "hpc",
            "--slurm-arg=--partition=debug",
            "--kernels-dir",
            str(tmp_path),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        spec = json.loads((tmp_path / "hpc" / "kernel.json").read_text())
        config = spec["metadata"]["kernel_provisioner"]["config"]
        assert config["slurm_args"] == ["--partition=debug"]
        again = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert again.returncode != 0
        assert "--replace" in again.stderr
