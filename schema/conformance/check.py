"""Prove that the schemas in ``schema/`` mean the same thing everywhere.

For every vector in ``schema/vectors/{valid,invalid}/*.json`` this asks

* python ``jsonschema`` (``Draft7Validator``),
* ``jsonschema-rs`` (the Rust engine, ``jsonschema_rs.Draft7Validator``),
* ``ajv`` 8 in strict mode (``node check.mjs``, installed by
  ``npm ci --prefix schema/conformance``), and
* kcf's own fast path and ``kcf_spec.validate`` (skip with ``--no-kcf``),

for a verdict, and fails (exit 1) if any of them disagrees with the vector's ``valid``, or, for
an invalid vector, if an engine does not blame the vector's ``expected_pointer`` (kcf must name
exactly that pointer). It also checks that the schemas are valid draft-07, that the generated
files are up to date (``generate.py --check``), that every valid connect-profile vector is also
a valid launch document, and that there are at least 30 valid and 30 invalid vectors.

Run from anywhere: ``python schema/conformance/check.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCHEMA_DIR = HERE.parent
VECTOR_DIR = SCHEMA_DIR / "vectors"
NAMES = ("connection", "connection-launch", "registration", "port-report")
KIND = {
    "connection": "connect",
    "connection-launch": "launch",
    "registration": "registration",
    "port-report": "port-report",
}
MIN_VECTORS = 30


def _escape(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _pointer(parts: Iterable[object]) -> str:
    return "".join(f"/{_escape(p)}" for p in parts)


def load_vectors() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for sub in ("valid", "invalid"):
        for path in sorted((VECTOR_DIR / sub).glob("*.json")):
            with open(path, encoding="utf-8") as f:
                out.append((f"{sub}/{path.name}", json.load(f)))
    return out


def vector_problems(name: str, vector: dict[str, Any]) -> list[str]:
    """Problems with the vector file itself (format described in schema/README.md)."""
    problems = []
    allowed = {"note", "schema", "valid", "expected_pointer", "document"}
    if set(vector) - allowed:
        problems.append(f"unknown fields {sorted(set(vector) - allowed)}")
    if not isinstance(vector.get("note"), str) or not vector["note"].strip():
        problems.append("no note")
    if vector.get("schema") not in NAMES:
        problems.append(f"schema must be one of {NAMES}")
    if vector.get("valid") is not name.startswith("valid/"):
        problems.append("'valid' does not match the directory")
    if "document" not in vector:
        problems.append("no document")
    if vector.get("valid") is False and not isinstance(vector.get("expected_pointer"), str):
        problems.append("an invalid vector needs expected_pointer")
    if vector.get("valid") is True and "expected_pointer" in vector:
        problems.append("a valid vector has no expected_pointer")
    return problems


class PythonJsonschema:
    name = "jsonschema"

    def __init__(self, schemas: dict[str, dict[str, Any]]) -> None:
        from jsonschema import Draft7Validator

        for schema in schemas.values():
            Draft7Validator.check_schema(schema)
        self.validators = {n: Draft7Validator(s) for n, s in schemas.items()}

    def run(self, schema: str, document: object) -> tuple[bool, set[str]]:
        pointers: set[str] = set()
        errors = list(self.validators[schema].iter_errors(document))
        for err in errors:
            base = _pointer(err.absolute_path)
            pointers.add(base)
            if err.validator == "required" and isinstance(err.instance, dict):
                pointers.update(
                    f"{base}/{_escape(p)}" for p in err.validator_value if p not in err.instance
                )
            if err.validator == "dependencies" and isinstance(err.instance, dict):
                for prop, deps in err.validator_value.items():
                    if prop in err.instance:
                        pointers.update(
                            f"{base}/{_escape(d)}" for d in deps if d not in err.instance
                        )
        return not errors, pointers


class RustJsonschema:
    name = "jsonschema-rs"

    def __init__(self, schemas: dict[str, dict[str, Any]]) -> None:
        import jsonschema_rs

        self.validators = {n: jsonschema_rs.Draft7Validator(s) for n, s in schemas.items()}

    def run(self, schema: str, document: object) -> tuple[bool, set[str]]:
        pointers: set[str] = set()
        errors = list(self.validators[schema].iter_errors(document))
        for err in errors:
            base = _pointer(err.instance_path)
            pointers.add(base)
            prop = getattr(err.kind, "property", None)
            if type(err.kind).__name__ == "Required" and prop is not None:
                pointers.add(f"{base}/{_escape(prop)}")
        return not errors, pointers


class Ajv:
    name = "ajv"

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH (ajv runs on node 18+)")
        if not (HERE / "node_modules" / "ajv").is_dir():
            raise RuntimeError(
                "ajv is not installed: run `npm ci --prefix schema/conformance` first"
            )
        proc = subprocess.run(
            [node, str(HERE / "check.mjs")], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"check.mjs failed:\n{proc.stderr}")
        self.results: dict[str, dict[str, Any]] = {}
        for line in proc.stdout.splitlines():
            row = json.loads(line)
            self.results[row["file"]] = row

    def result(self, name: str) -> tuple[bool, set[str]]:
        row = self.results.get(name)
        if row is None or "error" in row:
            raise RuntimeError(f"ajv did not check {name}: {row}")
        return bool(row["valid"]), set(row["pointers"])


class Kcf:
    name = "kcf"

    def __init__(self) -> None:
        from kcf_spec import ConnectionFileError, validate
        from kcf_spec._validate import check

        self.error = ConnectionFileError
        self.validate = validate
        self.check = check

    def run(self, schema: str, document: object) -> tuple[bool, set[str], str]:
        """(verdict, pointers, note): the fast path's verdict must equal validate's."""
        kind = KIND[schema]
        fast = self.check(document, kind)  # type: ignore[arg-type]
        try:
            self.validate(document, kind)  # type: ignore[arg-type]
        except self.error as exc:
            note = "" if not fast else "fast path accepts what validate rejects"
            return False, {exc.pointer}, note
        return True, set(), "" if fast else "fast path rejects what validate accepts"


def main(argv: list[str]) -> int:
    use_kcf = "--no-kcf" not in argv
    failures: list[str] = []

    gen = subprocess.run(
        [sys.executable, str(HERE / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    if gen.returncode != 0:
        failures.append(f"generated schemas are stale: {gen.stderr.strip()}")

    schemas = {}
    for name in NAMES:
        with open(SCHEMA_DIR / f"{name}.schema.json", encoding="utf-8") as f:
            schemas[name] = json.load(f)

    vectors = load_vectors()
    for name, vector in vectors:
        failures.extend(f"{name}: {p}" for p in vector_problems(name, vector))
    n_valid = sum(1 for n, _ in vectors if n.startswith("valid/"))
    n_invalid = len(vectors) - n_valid
    if n_valid < MIN_VECTORS or n_invalid < MIN_VECTORS:
        failures.append(
            f"need >= {MIN_VECTORS} valid and invalid vectors; have {n_valid}/{n_invalid}"
        )

    engines: list[Any] = [PythonJsonschema(schemas), RustJsonschema(schemas)]
    ajv = Ajv()
    kcf = Kcf() if use_kcf else None
    launch_engine = engines[0]

    agree = 0
    for name, vector in vectors:
        schema = vector.get("schema")
        if schema not in NAMES:
            continue
        document = vector["document"]
        want = vector["valid"]
        expected = vector.get("expected_pointer")
        results: list[tuple[str, bool, set[str]]] = [
            (e.name, *e.run(schema, document)) for e in engines
        ]
        results.append(("ajv", *ajv.result(name)))
        ok = True
        for engine, verdict, pointers in results:
            if verdict != want:
                failures.append(f"{name}: {engine} says {'valid' if verdict else 'invalid'}")
                ok = False
            elif not want and expected not in pointers:
                failures.append(
                    f"{name}: {engine} does not blame {expected!r} (it blames {sorted(pointers)})"
                )
                ok = False
        if kcf is not None:
            verdict, pointers, note = kcf.run(schema, document)
            if note:
                failures.append(f"{name}: kcf: {note}")
                ok = False
            if verdict != want:
                failures.append(f"{name}: kcf says {'valid' if verdict else 'invalid'}")
                ok = False
            elif not want and pointers != {expected}:
                failures.append(f"{name}: kcf names {sorted(pointers)}, expected {expected!r}")
                ok = False
        if schema == "connection" and want:
            launch_ok, _ = launch_engine.run("connection-launch", document)
            if not launch_ok:
                failures.append(f"{name}: valid for connect but not for launch")
                ok = False
        agree += ok

    judges = [e.name for e in engines] + ["ajv"] + (["kcf"] if kcf is not None else [])
    sys.stdout.write(
        f"schema conformance: {len(vectors)} vectors ({n_valid} valid, {n_invalid} invalid), "
        f"{agree} agreed by {', '.join(judges)}\n"
    )
    for failure in failures:
        sys.stdout.write(f"FAIL {failure}\n")
    sys.stdout.write("OK\n" if not failures else f"{len(failures)} failure(s)\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
