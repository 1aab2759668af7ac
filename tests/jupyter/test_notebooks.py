"""nbclient executes notebooks with kcf-provisioner: one, then 30 at once."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from realparts import missing_real_part

pytestmark = [pytest.mark.interop]


@pytest.fixture(autouse=True)
def _nbclient() -> None:
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError:
        missing_real_part("nbclient / nbformat are not installed")


def _outputs(path: Path) -> list[str]:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [o.get("text", "") for c in nb.cells for o in c.get("outputs", [])]


def _leftovers(runtime: Path) -> list[str]:
    files = [p.name for p in runtime.glob("kernel-*")]
    ports = runtime / "kcf-ports"
    return files + ([p.name for p in ports.iterdir()] if ports.is_dir() else [])


@pytest.mark.timeout(300)
def test_notebook_executes_with_kcf_provisioner(tmp_path: Path, notebooks: ModuleType) -> None:
    """One notebook runs to the end; its output is there; no file is left."""
    nb = notebooks.write_notebook(tmp_path / "one.ipynb")
    runtime = tmp_path / "runtime"
    assert notebooks.run_notebooks([nb], provisioner="kcf-provisioner", runtime_dir=runtime) == [0]
    assert "answer 42\n" in _outputs(nb)
    assert _leftovers(runtime) == []


@pytest.mark.scale
@pytest.mark.timeout(900)
def test_notebooks_30_at_once_all_succeed(tmp_path: Path, notebooks: ModuleType) -> None:
    """30 notebooks at once, each in its own process: all succeed, no file is left."""
    nbs = [notebooks.write_notebook(tmp_path / f"nb{i}.ipynb") for i in range(30)]
    runtime = tmp_path / "runtime"
    codes = notebooks.run_notebooks(
        nbs, provisioner="kcf-provisioner", runtime_dir=runtime, timeout=840
    )
    assert codes == [0] * 30
    assert all("answer 42\n" in _outputs(nb) for nb in nbs)
    assert _leftovers(runtime) == []
