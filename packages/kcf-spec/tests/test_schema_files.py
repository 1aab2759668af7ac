"""The schema files: portable draft-07, generated parts up to date, found by ``kcf_spec``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import kcf_spec
import pytest
from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = ROOT / "schema"
NAMES = ("connection", "connection-launch", "registration", "port-report")


def _walk(node: Any, where: str = "") -> list[tuple[str, str, Any]]:
    """Every (pointer, key, value) in a JSON tree."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((where, k, v))
            out.extend(_walk(v, f"{where}/{k}"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_walk(v, f"{where}/{i}"))
    return out


def _generate_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "kcf_generate", SCHEMA_DIR / "conformance" / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NAMES)
class TestSchemaFile:
    def test_schema_file_is_valid_draft7(self, name: str) -> None:
        """Each schema is itself valid against the draft-07 meta-schema and declares draft-07."""
        schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
        Draft7Validator.check_schema(schema)

    def test_schema_file_id_is_stable_and_versioned(self, name: str) -> None:
        """Each schema has an ``$id`` of the form https://kcf.dev/schema/<name>/v1.json."""
        schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
        assert schema["$id"] == f"https://kcf.dev/schema/{name}/v1.json"

    def test_schema_file_uses_only_portable_keywords(self, name: str) -> None:
        """No ``format``, no union type arrays, no ``unevaluated*``, no remote ``$ref``."""
        schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
        for where, key, value in _walk(schema):
            if where.endswith(("/properties", "/definitions")):
                continue  # property and definition names are not keywords
            assert key != "format", where
            assert not key.startswith("unevaluated"), where
            if key == "type":
                assert isinstance(value, str), f"union type at {where}"
            if key == "$ref":
                assert value.startswith("#/"), f"non-local $ref at {where}"


def test_schema_generated_files_are_up_to_date() -> None:
    """The launch profile and the shared definitions are exactly what generate.py derives."""
    for name, text in _generate_module().expected_files().items():
        assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == text, name


def test_schema_launch_profile_differs_only_in_port_range() -> None:
    """The launch schema is the connect schema with port minimum 0 (and its own id/texts)."""
    connect = json.loads((SCHEMA_DIR / "connection.schema.json").read_text())
    launch = json.loads((SCHEMA_DIR / "connection-launch.schema.json").read_text())
    assert launch["definitions"]["port"]["minimum"] == 0
    assert connect["definitions"]["port"]["minimum"] == 1
    for doc in (connect, launch):
        for key in ("$id", "title", "description", "$comment"):
            doc.pop(key)
        doc["definitions"]["port"].pop("minimum")
        doc["definitions"]["port"].pop("description")
    assert connect == launch


class TestSchemaPath:
    @pytest.mark.parametrize("name", NAMES)
    def test_schema_path_finds_the_monorepo_file(self, name: str) -> None:
        """In a source checkout ``schema_path`` returns the file in the top-level ``schema/``."""
        assert kcf_spec.schema_path(name) == SCHEMA_DIR / f"{name}.schema.json"

    @pytest.mark.parametrize(
        ("alias", "name"), [("connect", "connection"), ("launch", "connection-launch")]
    )
    def test_schema_path_accepts_profile_names(self, alias: str, name: str) -> None:
        """The profile names map to their schema files."""
        assert kcf_spec.schema_path(alias) == kcf_spec.schema_path(name)

    def test_schema_path_unknown_name_raises_value_error(self) -> None:
        """An unknown schema name is a ValueError that lists the known ones."""
        with pytest.raises(ValueError, match="connection-launch"):
            kcf_spec.schema_path("kernelspec")

    def test_load_schema_returns_an_independent_copy(self) -> None:
        """Mutating the returned dict does not change what the next call returns."""
        first = kcf_spec.load_schema("connection")
        first["definitions"]["port"]["minimum"] = 99
        assert kcf_spec.load_schema("connection")["definitions"]["port"]["minimum"] == 1
        assert kcf_spec.load_schema("connect") == json.loads(
            (SCHEMA_DIR / "connection.schema.json").read_text()
        )
