"""Listing kernelspecs and switching one to kcf-provisioner and back."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from kcf_provisioner import (
    KernelSpecFileError,
    list_kernelspecs,
    use_default_provisioner,
    use_kcf_provisioner,
)


@pytest.fixture
def ksm(kernel_dir: Path) -> Any:
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)


def _doc(kernel_dir: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((kernel_dir / name / "kernel.json").read_text()))


class TestKernelspecs:
    def test_kernelspecs_listed_with_provisioner(
        self, kernel_dir: Path, ksm: Any, spec_writer: Any, ipykernel_argv: list[str]
    ) -> None:
        """Every kernelspec, sorted, with the provisioner it names (or None)."""
        spec_writer(kernel_dir, "b", ipykernel_argv)
        spec_writer(kernel_dir, "a", ipykernel_argv, provisioner={"provisioner_name": "x"})
        got = list_kernelspecs(ksm)
        assert [(e.name, e.provisioner) for e in got] == [("a", "x"), ("b", None)]
        assert got[1].argv == tuple(ipykernel_argv)

    def test_kernelspecs_switch_and_back_keeps_rest(
        self, kernel_dir: Path, ksm: Any, spec_writer: Any, ipykernel_argv: list[str]
    ) -> None:
        """Switching edits only metadata.kernel_provisioner; back restores the document."""
        d = spec_writer(
            kernel_dir, "py", ipykernel_argv, env={"A": "1"}, metadata={"debugger": True}
        )
        os.chmod(d / "kernel.json", 0o644)
        before = _doc(kernel_dir, "py")
        use_kcf_provisioner("py", config={"port_strategy": "reserve"}, manager=ksm)
        after = _doc(kernel_dir, "py")
        assert after["metadata"]["kernel_provisioner"] == {
            "provisioner_name": "kcf-provisioner",
            "config": {"port_strategy": "reserve"},
        }
        assert {k: v for k, v in after.items() if k != "metadata"} == {
            k: v for k, v in before.items() if k != "metadata"
        }
        assert after["metadata"]["debugger"] is True
        assert stat.S_IMODE((d / "kernel.json").stat().st_mode) == 0o644
        assert list_kernelspecs(ksm)[0].uses_kcf
        use_default_provisioner("py", manager=ksm)
        assert _doc(kernel_dir, "py") == before
        assert [p.name for p in d.iterdir()] == ["kernel.json"]  # no temp file left

    def test_kernelspecs_previous_provisioner_restored(
        self, kernel_dir: Path, ksm: Any, spec_writer: Any, ipykernel_argv: list[str]
    ) -> None:
        """A provisioner named before the switch comes back."""
        other = {"provisioner_name": "other", "config": {"k": 1}}
        spec_writer(kernel_dir, "py", ipykernel_argv, provisioner=other)
        use_kcf_provisioner("py", manager=ksm)
        use_default_provisioner("py", manager=ksm)
        assert _doc(kernel_dir, "py")["metadata"] == {"kernel_provisioner": other}

    def test_kernelspecs_unknown_name(self, ksm: Any) -> None:
        """An unknown kernelspec: a clear error naming it."""
        with pytest.raises(KernelSpecFileError, match="nope"):
            use_kcf_provisioner("nope", manager=ksm)

    def test_kernelspecs_bad_metadata_names_pointer(
        self, kernel_dir: Path, ksm: Any, spec_writer: Any, ipykernel_argv: list[str]
    ) -> None:
        """metadata that is not an object: the file and ``/metadata`` are named."""
        d = spec_writer(kernel_dir, "py", ipykernel_argv)
        doc = _doc(kernel_dir, "py")
        doc["metadata"] = []
        (d / "kernel.json").write_text(json.dumps(doc))
        with pytest.raises(KernelSpecFileError, match="/metadata") as err:
            use_kcf_provisioner("py", manager=ksm)
        assert err.value.path == d / "kernel.json"
