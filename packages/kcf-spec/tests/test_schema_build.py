"""The built sdist and wheel carry ``schema/``, byte for byte, and so does a wheel built
from the sdist."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "packages" / "kcf-spec"
SCHEMA_DIR = ROOT / "schema"


def _build(source: Path, out: Path, *targets: str) -> None:
    args = [sys.executable, "-m", "hatchling", "build", "-d", str(out)]
    for target in targets:
        args += ["-t", target]
    proc = subprocess.run(
        args, cwd=source, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _wheel_schemas(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as zf:
        prefix = "kcf_spec/schema/"
        return {n[len(prefix) :]: zf.read(n) for n in zf.namelist() if n.startswith(prefix)}


def test_schema_build_wheel_and_sdist_carry_the_schema(tmp_path: Path) -> None:
    """sdist, wheel and a wheel built from the sdist hold exactly the files in ``schema/``."""
    expected = {p.name: p.read_bytes() for p in SCHEMA_DIR.glob("*.schema.json")}
    expected["README.md"] = (SCHEMA_DIR / "README.md").read_bytes()
    vectors = {
        str(p.relative_to(SCHEMA_DIR)): p.read_bytes() for p in SCHEMA_DIR.glob("vectors/*/*.json")
    }
    assert len(expected) == 5
    assert vectors

    dist = tmp_path / "dist"
    _build(PACKAGE, dist, "sdist", "wheel")
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    assert _wheel_schemas(wheel) == expected

    with tarfile.open(sdist) as tf:
        top = tf.getnames()[0].split("/")[0]
        in_sdist = {
            m.name[len(f"{top}/schema/") :]: tf.extractfile(m).read()  # type: ignore[union-attr]
            for m in tf.getmembers()
            if m.isfile() and m.name.startswith(f"{top}/schema/")
        }
        assert in_sdist == expected | vectors
        assert not any("node_modules" in n or "conformance" in n for n in tf.getnames())
        tf.extractall(tmp_path / "unpacked", filter="data")

    again = tmp_path / "again"
    _build(tmp_path / "unpacked" / top, again, "wheel")
    (wheel2,) = again.glob("*.whl")
    assert _wheel_schemas(wheel2) == expected
