"""Loading a connection file: ``kcf_spec.ConnectionInfo.load`` vs jupyter_client.

The file is one jupyter_client's ``write_connection_file`` wrote (tcp, key, kernel_name).
Ours reads it, checks it against the schema's rules (fast path, no jsonschema) and returns
a typed, frozen value.

Counterparts, from the closest to the lightest:

* ``ConnectionFileMixin.load_connection_file`` on an object made once and reused: what a
  jupyter_client client or manager runs to load a file (``json.load``, then set ip, transport,
  ports, ``session.key`` and ``session.signature_scheme`` on the traitlets object). It checks
  nothing. Reused, it skips setting ports after the first call, which favours it a little.
* the same on a fresh ``ConnectionFileMixin()`` each call: a one-shot tool's cost (traitlets
  object and Session construction included).
* bare ``json.load``: the floor (printed beside both). No validation, no typed value.
"""

from __future__ import annotations

import atexit
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Case, main
from jupyter_client.connect import ConnectionFileMixin, write_connection_file
from kcf_spec import ConnectionInfo

_DIR = Path(tempfile.mkdtemp(prefix="kcf-bench-load-"))
_FILE, _ = write_connection_file(
    str(_DIR / "kernel-bench.json"),
    key=b"4f2b8a8e-3f1c-4b7e-9d0a-5c6e7f8a9b0c",
    kernel_name="python3",
)
_MIXIN = ConnectionFileMixin()


def _ours() -> object:
    return ConnectionInfo.load(_FILE)


def _theirs_reused() -> object:
    _MIXIN.load_connection_file(_FILE)
    return _MIXIN


def _theirs_fresh() -> object:
    mixin = ConnectionFileMixin()
    mixin.load_connection_file(_FILE)
    return mixin


def _json_only() -> object:
    with open(_FILE, encoding="utf-8") as f:
        return json.load(f)


@atexit.register
def _cleanup() -> None:
    shutil.rmtree(_DIR, ignore_errors=True)


CASES = [
    Case(
        "ConnectionInfo.load vs ConnectionFileMixin.load_connection_file (reused object)",
        ours=_ours,
        theirs=_theirs_reused,
        floor=_json_only,
        floor_name="bare json.load",
        target=">= 1x (validated and typed, yet not slower)",
    ),
    Case(
        "ConnectionInfo.load vs fresh ConnectionFileMixin().load_connection_file",
        ours=_ours,
        theirs=_theirs_fresh,
        floor=_json_only,
        floor_name="bare json.load",
    ),
]

if __name__ == "__main__":
    raise SystemExit(main(CASES))
