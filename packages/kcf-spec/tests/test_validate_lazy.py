"""Loading a valid file never imports jsonschema; an invalid one does, to explain itself."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

GOOD = {
    "shell_port": 57503,
    "iopub_port": 40885,
    "stdin_port": 52597,
    "control_port": 50160,
    "hb_port": 42540,
    "ip": "127.0.0.1",
    "key": "a0436f6c-1916-498b-8eb9-e81ab9368e84",
    "transport": "tcp",
    "signature_scheme": "hmac-sha256",
    "kernel_name": "",
}

SCRIPT = textwrap.dedent(
    """
    import sys
    import kcf_spec
    after_import = "jsonschema" in sys.modules
    info = kcf_spec.ConnectionInfo.load(sys.argv[1])
    kcf_spec.validate(info.to_dict())
    after_valid = "jsonschema" in sys.modules
    try:
        kcf_spec.ConnectionInfo.load(sys.argv[2])
    except kcf_spec.ConnectionFileError as exc:
        pointer = exc.pointer
    else:
        raise SystemExit("the bad file loaded")
    print(after_import, after_valid, "jsonschema" in sys.modules, pointer)
    """
)


def test_validate_valid_file_does_not_import_jsonschema(tmp_path: Path) -> None:
    """Importing kcf_spec and loading a valid file leaves jsonschema unimported; a bad file
    imports it and gets the precise pointer."""
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**GOOD, "hb_port": 0}))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(good), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False", "True", "/hb_port"]


LAZY_SCRIPT = textwrap.dedent(
    """
    import sys
    import kcf_spec
    after_import = sorted({"dataclasses", "inspect", "pathlib", "copy"} & set(sys.modules))
    info = kcf_spec.ConnectionInfo.loads(sys.argv[1])
    codec = kcf_spec.Codec.from_connection(info)
    header = kcf_spec.Header("m", "kernel_info_request", "s")
    frames = codec.serialize(kcf_spec.Message(header, content={"a": 1}))
    assert codec.parse(frames).content == {"a": 1}
    assert info.replace(ip="127.0.0.2") != info
    after_use = sorted({"dataclasses", "inspect", "pathlib", "copy"} & set(sys.modules))
    print(after_import, after_use)
    """
)


def test_import_does_not_import_dataclasses_inspect_or_pathlib() -> None:
    """Importing kcf_spec, loading a file and round-tripping a message import neither
    dataclasses (nor the inspect it pulls in), pathlib nor copy."""
    proc = subprocess.run(
        [sys.executable, "-c", LAZY_SCRIPT, json.dumps(GOOD)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "[]"]
