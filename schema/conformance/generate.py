"""Derive the generated parts of ``schema/`` from the hand-written ``connection.schema.json``.

``connection.schema.json`` (the connect profile) is the one hand-written source of the shared
definitions. This script

* writes ``connection-launch.schema.json``: the same schema with ports 0..65535 and its own
  ``$id``, title and description (nothing else differs), and
* copies the shared definitions (``port``, ``ip``, ``tcp_host``, ``transport``, ``key``,
  ``signature_scheme``) into ``registration.schema.json`` and ``port-report.schema.json``,
  and ``port_string`` (hand-written in ``port-report.schema.json``) into
  ``registration.schema.json`` (xeus writes its registration port as a string).

Run ``python schema/conformance/generate.py`` after editing a schema; ``--check`` writes
nothing and exits 1 if any file is not what this script would write (the conformance check
and the test suite run it).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent.parent

LAUNCH_ID = "https://kcf.dev/schema/connection-launch/v1.json"
SHARED = {
    "registration.schema.json": ("port", "ip", "tcp_host", "transport", "key", "signature_scheme"),
    "port-report.schema.json": ("port",),
}
#: Definitions hand-written in a schema other than the connect one: target -> (source, names).
SHARED_FROM = {"registration.schema.json": ("port-report.schema.json", ("port_string",))}


def _read(name: str) -> dict[str, Any]:
    with open(SCHEMA_DIR / name, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def launch_schema(connect: dict[str, Any]) -> dict[str, Any]:
    """The launch profile: the connect profile with port 0 ("choose your own") allowed."""
    out = copy.deepcopy(connect)
    out["$id"] = LAUNCH_ID
    out["title"] = "Jupyter kernel connection file (launch profile)"
    out["description"] = (
        "What is handed to a kernel: like the connect profile, but a port may be 0, "
        "meaning the kernel chooses its own and rewrites the file with the real one."
    )
    out["$comment"] = (
        "GENERATED from connection.schema.json by schema/conformance/generate.py; do not edit. "
        "Every decision is explained in schema/README.md."
    )
    port = out["definitions"]["port"]
    port["description"] = (
        "A TCP port, or the numeric suffix of an ipc endpoint: an integer from 0 to 65535; "
        "0 asks the kernel to choose."
    )
    port["minimum"] = 0
    return out


def expected_files() -> dict[str, str]:
    """File name -> the text this script would write."""
    connect = _read("connection.schema.json")
    files = {"connection-launch.schema.json": _dump(launch_schema(connect))}
    for name, shared in SHARED.items():
        data = _read(name)
        defs = dict(data.get("definitions", {}))
        for key in shared:
            defs.pop(key, None)
        for key in shared:
            defs[key] = copy.deepcopy(connect["definitions"][key])
        source_name, names = SHARED_FROM.get(name, ("", ()))
        if names:
            source = _read(source_name)["definitions"]
            for key in names:
                defs.pop(key, None)
                defs[key] = copy.deepcopy(source[key])
        data["definitions"] = defs
        files[name] = _dump(data)
    return files


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, text in expected_files().items():
        path = SCHEMA_DIR / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not check:
            path.write_text(text, encoding="utf-8")
    if check and stale:
        sys.stderr.write(f"generate.py --check: out of date: {', '.join(stale)}\n")
        sys.stderr.write("run: python schema/conformance/generate.py\n")
        return 1
    if not check:
        sys.stdout.write(f"generate.py: wrote {', '.join(stale) or 'nothing (all up to date)'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
