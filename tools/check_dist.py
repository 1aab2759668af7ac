"""Check what ``nox -s build`` produced: ``python tools/check_dist.py DIST``.

``python -m build`` builds each wheel *from the sdist*, so a schema found in the kcf-spec
wheel proves the sdist carries it too. Checked: one sdist and one wheel per package, one
shared version, exact ``==`` pins between siblings, the wheel's ``*.schema.json`` files
byte-equal to ``schema/``'s, and ``py.typed`` in every wheel.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = {
    "kcf_spec": "kcf-spec",
    "kcf_kernel": "kcf-kernel",
    "kcf_client": "kcf-client",
    "kcf_provisioner": "kcf-provisioner",
}


def main(dist: Path) -> list[str]:
    problems: list[str] = []
    wheels = {w.name.split("-")[0]: w for w in dist.glob("*.whl")}
    sdists = {s.name.rsplit("-", 1)[0]: s for s in dist.glob("*.tar.gz")}
    if set(wheels) != set(NAMES) or set(sdists) != set(NAMES):
        found = sorted(p.name for p in dist.iterdir())
        return [f"expected a wheel and an sdist of each of {sorted(NAMES)}, found {found}"]
    versions: set[str] = set()
    for mod, whl in wheels.items():
        with zipfile.ZipFile(whl) as z:
            names = z.namelist()
            meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
            meta = Parser().parsestr(z.read(meta_name).decode())
            versions.add(meta["Version"])
            if f"{mod}/py.typed" not in names:
                problems.append(f"{whl.name}: no {mod}/py.typed")
            for req in meta.get_all("Requires-Dist") or []:
                if req.startswith("kcf-") and "==" not in req:
                    problems.append(f"{whl.name}: sibling requirement {req!r} is not an exact pin")
                if req.startswith("kcf-") and not req.endswith(f"=={meta['Version']}"):
                    problems.append(f"{whl.name}: sibling requirement {req!r} is not this version")
            if mod == "kcf_spec":
                shipped = {
                    n.removeprefix("kcf_spec/schema/"): n
                    for n in names
                    if n.startswith("kcf_spec/schema/") and not n.endswith("/")
                }
                schema_dir = ROOT / "schema"
                source = {p.name: p for p in schema_dir.glob("*.schema.json")}
                for rel, path in source.items():
                    if rel not in shipped:
                        problems.append(f"{whl.name}: schema/{rel} missing")
                    elif z.read(shipped[rel]) != path.read_bytes():
                        problems.append(f"{whl.name}: schema/{rel} differs from the repository's")
    with tarfile.open(sdists["kcf_spec"]) as t:
        if not any(m.name.endswith("/schema/connection.schema.json") for m in t.getmembers()):
            problems.append(f"{sdists['kcf_spec'].name}: no schema/connection.schema.json")
    if len(versions) != 1:
        problems.append(f"the three wheels have different versions: {sorted(versions)}")
    return problems


if __name__ == "__main__":
    found = main(Path(sys.argv[1]))
    for p in found:
        print(f"check_dist: {p}")
    print(f"check_dist: {'OK' if not found else f'{len(found)} problem(s)'}")
    raise SystemExit(1 if found else 0)
