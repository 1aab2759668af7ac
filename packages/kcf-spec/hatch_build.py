"""Ship the language-neutral ``schema/`` directory of the monorepo inside kcf-spec.

``schema/`` at the top of the repository is the one source of truth. Built from the
repository, the sdist gets a copy at ``schema/`` and the wheel at ``kcf_spec/schema/``;
built from an sdist, the wheel takes the sdist's copy. Nothing is committed twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class SchemaHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        source = root.parent.parent / "schema"
        if not (source / "connection.schema.json").is_file():
            source = root / "schema"  # building from an sdist
        if not (source / "connection.schema.json").is_file():
            msg = f"kcf-spec: no schema/connection.schema.json beside {root} or in the monorepo"
            raise FileNotFoundError(msg)
        if self.target_name == "sdist":
            build_data["force_include"][str(source)] = "schema"
        elif version != "editable":
            # An editable install reads the monorepo's schema/ directly (kcf_spec._schema).
            build_data["force_include"][str(source)] = "kcf_spec/schema"
