"""kcf_kernel against the real thing: jupyter_client reads our files, ipykernel runs from our
launcher, and we read jupyter_client's files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import jupyter_client
import kcf_kernel
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.connect import write_connection_file as jc_write_connection_file
from kcf_spec import Channel, ConnectionInfo

pytestmark = pytest.mark.interop


def _kernel_info(connection_file: Path) -> dict[str, object]:
    client = BlockingKernelClient()
    client.load_connection_file(str(connection_file))
    client.start_channels()
    try:
        reply = client.kernel_info(reply=True, timeout=60)
    finally:
        client.stop_channels()
    assert isinstance(reply, dict)
    return reply["content"]  # type: ignore[no-any-return]


class TestOurFilesInJupyterClient:
    def test_jupyter_client_loads_our_file(self, runtime: Path) -> None:
        """BlockingKernelClient.load_connection_file takes every field of a file we wrote."""
        info = ConnectionInfo(
            5001, 5002, 5003, 5004, 5005, key=kcf_kernel.new_key(), kernel_name="python3"
        )
        path = kcf_kernel.write_connection_file(info)
        client = BlockingKernelClient()
        client.load_connection_file(str(path))
        assert client.get_connection_info() | {"key": client.session.key} == {
            "shell_port": 5001,
            "iopub_port": 5002,
            "stdin_port": 5003,
            "control_port": 5004,
            "hb_port": 5005,
            "ip": "127.0.0.1",
            "transport": "tcp",
            "signature_scheme": "hmac-sha256",
            "key": info.key,
        }

    def test_jupyter_client_finds_our_default_file(self, runtime: Path) -> None:
        """jupyter_client.find_connection_file finds our default file by its bare name."""
        ours = kcf_kernel.write_connection_file(ConnectionInfo(1, 2, 3, 4, 5, key=b"k"))
        assert ours.parent == runtime
        assert jupyter_client.find_connection_file(ours.name) == str(ours)

    @pytest.mark.parametrize("ports", ["reserve", "kernel"])
    def test_ipykernel_from_our_launcher_answers(
        self, runtime: Path, kernels: list[kcf_kernel.KernelProcess], ports: str
    ) -> None:
        """A real ipykernel started by launch_kernel answers kernel_info through jupyter_client."""
        kp = kcf_kernel.launch_kernel(
            kcf_kernel.ipykernel_argv(),
            ports=ports,  # type: ignore[arg-type]
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        kernels.append(kp)
        content = _kernel_info(kp.connection_file)
        assert content["status"] == "ok"
        assert content["implementation"] == "ipython"
        assert kp.info == ConnectionInfo.load(kp.connection_file)

    def test_ipykernel_bind_first_file_handed_over(
        self, runtime: Path, kernels: list[kcf_kernel.KernelProcess]
    ) -> None:
        """ipykernel given our launch file with ports 0 rewrites it with its real ports, keeping
        our key; jupyter_client then reaches it."""
        kp = kcf_kernel.launch_kernel(
            kcf_kernel.ipykernel_argv(),
            ports="kernel",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        kernels.append(kp)
        assert 0 not in kp.info.ports.values()
        assert json.loads(kp.connection_file.read_text())["key"] == kp.info.key.decode()
        assert _kernel_info(kp.connection_file)["status"] == "ok"

    @pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
    def test_ipykernel_killed_files_removed_by_launcher(
        self, runtime: Path, kernels: list[kcf_kernel.KernelProcess], sig: int
    ) -> None:
        """ipykernel leaves its file behind on SIGTERM and SIGKILL; our launcher removes it."""
        kp = kcf_kernel.launch_kernel(
            kcf_kernel.ipykernel_argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        kernels.append(kp)
        assert _kernel_info(kp.connection_file)["status"] == "ok"
        kp.send_signal(sig)
        kp.popen.wait(60)
        assert kp.connection_file.exists()  # what ipykernel leaves behind
        kp.wait(10)
        assert not kp.connection_file.exists()
        assert [p.name for p in runtime.iterdir()] == []  # and no kcf-ports/ left empty


class TestJupyterClientFilesInKcf:
    def test_we_load_jupyter_client_file_without_loss(self, tmp_path: Path) -> None:
        """Every field jupyter_client writes survives our load and our write."""
        fname = str(tmp_path / "kernel-jc.json")
        jc_write_connection_file(
            fname,
            key=b"abc-123",
            kernel_name="python3",
            signature_scheme="hmac-sha512",
            jupyter_session="sess",
        )
        theirs = json.loads(Path(fname).read_text())
        info = ConnectionInfo.load(fname)
        assert info.to_dict() == theirs
        rewritten = kcf_kernel.write_connection_file(info, tmp_path / "again.json")
        assert json.loads(rewritten.read_text()) == theirs

    def test_we_bind_jupyter_client_launch_values(self, tmp_path: Path) -> None:
        """Ports jupyter_client chose are bound as given by bind_kernel (its file, not ours:
        left in place)."""
        fname = str(tmp_path / "kernel-jc.json")
        _, cfg = jc_write_connection_file(fname, key=b"k")
        with kcf_kernel.bind_kernel(fname) as ks:
            assert {c.port_key: ks.info.port(c) for c in Channel} == {
                c.port_key: cfg[c.port_key]  # type: ignore[literal-required]
                for c in Channel
            }
            assert not ks.owns_file
        assert os.path.exists(fname)


def test_ipykernel_over_ipc_from_our_launcher(
    monkeypatch: pytest.MonkeyPatch, kernels: list[kcf_kernel.KernelProcess]
) -> None:
    """ipykernel kernels over ipc (absolute socket paths) answers jupyter_client; the socket
    files are removed afterwards."""
    import shutil
    import tempfile

    short = Path(tempfile.mkdtemp(prefix="kcf-", dir="/tmp"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(short))
    try:
        kp = kcf_kernel.launch_kernel(
            kcf_kernel.ipykernel_argv(),
            transport="ipc",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        kernels.append(kp)
        assert os.path.isabs(kp.info.ip)
        assert _kernel_info(kp.connection_file)["status"] == "ok"
        kp.close()
        assert [p.name for p in short.iterdir()] == []
    finally:
        shutil.rmtree(short, ignore_errors=True)


def test_kernelspecs_found_as_jupyter_client_finds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """find_kernel_specs gives the names and directories KernelSpecManager gives (JUPYTER_PATH
    first, the user data dir, sys.prefix, system dirs; ipykernel's python3)."""
    from jupyter_client.kernelspec import KernelSpecManager

    for root, name in ((tmp_path / "jp", "Alpha"), (tmp_path / "data", "beta")):
        d = root / "kernels" / name
        d.mkdir(parents=True)
        (d / "kernel.json").write_text(
            json.dumps({"argv": ["x", "{connection_file}"], "display_name": name, "language": "x"})
        )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jp"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    ours = {k: str(v) for k, v in kcf_kernel.find_kernel_specs().items()}
    theirs = KernelSpecManager().find_kernel_specs()
    assert ours == theirs
    spec = kcf_kernel.get_kernel_spec("python3")
    jc = KernelSpecManager().get_kernel_spec("python3")
    assert list(spec.argv) == jc.argv
    assert (spec.language, spec.display_name) == (jc.language, jc.display_name)


def test_launch_python3_kernelspec_never_sends_a_registration_file(
    runtime: Path, kernels: list[kcf_kernel.KernelProcess]
) -> None:
    """ipykernel's kernelspec declares protocol 5.5 without the handshake: launched by name it
    is given a connection file (kernel-chooses) and answers jupyter_client."""
    kp = kcf_kernel.launch_kernel("python3", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kernels.append(kp)
    assert kp.strategy == "kernel"
    assert not any("registration" in a for a in kp.argv)
    assert _kernel_info(kp.connection_file)["status"] == "ok"
