"""Ship the language-neutral ``schema/`` directory of the monorepo inside kcf-spec.

``schema/`` at the top of the repository is the one source of truth. Built from the
repository, the sdist gets a copy at ``schema/`` (the schemas, their README and the
conformance vectors) and the wheel gets the schemas and README at ``kcf_spec/schema/``;
built from an sdist, the wheel takes the sdist's copy. Nothing is committed twice, and the
conformance tooling (``schema/conformance/``, with its ``node_modules``) is never shipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_MARKER = "connection.schema.json"


def _files(source: Path, *, vectors: bool) -> list[Path]:
    files = sorted(source.glob("*.schema.json"))
    if (source / "README.md").is_file():
        files.append(source / "README.md")
    if vectors:
        files.extend(sorted((source / "vectors").rglob("*.json")))
        files.extend(sorted((source / "vectors").rglob("*.md")))
    return files


class SchemaHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        source = root.parent.parent / "schema"
        if not (source / _MARKER).is_file():
            source = root / "schema"  # building from an sdist
        if not (source / _MARKER).is_file():
            msg = f"kcf-spec: no schema/{_MARKER} beside {root} or in the monorepo"
            raise FileNotFoundError(msg)
        if self.target_name == "sdist":
            for path in _files(source, vectors=True):
                build_data["force_include"][str(path)] = f"schema/{path.relative_to(source)}"
        elif version != "editable":
            # An editable install reads the monorepo's schema/ directly (kcf_spec._schema).
            for path in _files(source, vectors=False):
                build_data["force_include"][str(path)] = (
                    f"kcf_spec/schema/{path.relative_to(source)}"
                )
