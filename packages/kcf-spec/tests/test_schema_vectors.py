"""The conformance vectors: every engine and kcf give each one its stated verdict and pointer."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import jsonschema_rs
import kcf_spec
import pytest
from jsonschema import Draft7Validator
from kcf_spec._validate import Kind, check

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = ROOT / "schema"
KIND: dict[str, Kind] = {
    "connection": "connect",
    "connection-launch": "launch",
    "registration": "registration",
    "port-report": "port-report",
}
VECTORS = sorted((SCHEMA_DIR / "vectors").glob("*/*.json"))


def _vector(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    return data


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_vectors_are_enough() -> None:
    """There are at least 30 valid and 30 invalid vectors."""
    valid = [p for p in VECTORS if p.parent.name == "valid"]
    invalid = [p for p in VECTORS if p.parent.name == "invalid"]
    assert len(valid) >= 30
    assert len(invalid) >= 30


@pytest.mark.parametrize("path", VECTORS, ids=_id)
class TestVector:
    def test_vector_verdict_of_kcf_validate(self, path: Path) -> None:
        """``validate`` accepts valid vectors and names the expected pointer of invalid ones."""
        vector = _vector(path)
        kind = KIND[vector["schema"]]
        if vector["valid"]:
            kcf_spec.validate(vector["document"], kind)
        else:
            with pytest.raises(kcf_spec.ConnectionFileError) as info:
                kcf_spec.validate(vector["document"], kind)
            assert info.value.pointer == vector["expected_pointer"]
            assert info.value.expected

    def test_vector_fast_path_agrees_with_jsonschema(self, path: Path) -> None:
        """The fast check and python-jsonschema give the vector's verdict."""
        vector = _vector(path)
        validator = Draft7Validator(_schema(vector["schema"]))
        assert validator.is_valid(vector["document"]) is vector["valid"]
        assert check(vector["document"], KIND[vector["schema"]]) is vector["valid"]

    def test_vector_jsonschema_rs_agrees(self, path: Path) -> None:
        """The Rust engine (jsonschema-rs) gives the vector's verdict."""
        vector = _vector(path)
        validator = jsonschema_rs.Draft7Validator(_schema(vector["schema"]))
        assert validator.is_valid(vector["document"]) is vector["valid"]


def test_vectors_three_engine_check_passes(missing_real_part: Callable[[str], NoReturn]) -> None:
    """``schema/conformance/check.py`` (jsonschema, jsonschema-rs, ajv, kcf) reports no failure.

    Needs node and ``npm ci --prefix schema/conformance`` (the nox sessions run it).
    """
    if (
        shutil.which("node") is None
        or not (SCHEMA_DIR / "conformance" / "node_modules" / "ajv").is_dir()
    ):
        missing_real_part(
            "node and schema/conformance/node_modules (npm ci --prefix schema/conformance)"
        )
    proc = subprocess.run(
        [sys.executable, str(SCHEMA_DIR / "conformance" / "check.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "agreed by jsonschema, jsonschema-rs, ajv, kcf" in proc.stdout
