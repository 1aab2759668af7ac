"""``kcf_spec.validate``: the public entry point for every kind of document."""

from __future__ import annotations

from typing import Any

import kcf_spec
import pytest
from kcf_spec import ConnectionFileError

GOOD: dict[str, Any] = {
    "shell_port": 1,
    "iopub_port": 2,
    "stdin_port": 3,
    "control_port": 4,
    "hb_port": 5,
    "ip": "127.0.0.1",
    "key": "",
    "transport": "tcp",
}


class TestValidate:
    def test_validate_valid_document_returns_none(self) -> None:
        """A valid document passes silently in both profiles."""
        kcf_spec.validate(GOOD)
        kcf_spec.validate({**GOOD, "hb_port": 0}, "launch")

    def test_validate_names_the_path(self) -> None:
        """``path`` is carried into the error and its message."""
        with pytest.raises(ConnectionFileError) as err:
            kcf_spec.validate({**GOOD, "ip": ""}, path="/run/kernel-9.json")
        assert err.value.path == "/run/kernel-9.json"
        assert err.value.pointer == "/ip"
        assert str(err.value).startswith("/run/kernel-9.json: at /ip: expected a tcp address")

    def test_validate_registration_and_port_report_kinds(self) -> None:
        """The registration and port-report kinds use their own schemas."""
        with pytest.raises(ConnectionFileError) as err:
            kcf_spec.validate(GOOD, "registration")
        assert err.value.pointer == "/registration_port"  # kernel_id is optional (Kallichore)
        assert err.value.missing
        kcf_spec.validate(
            {k: str(v) for k, v in GOOD.items() if k.endswith("_port")}, "port-report"
        )

    def test_validate_unknown_kind_raises_value_error(self) -> None:
        """An unknown profile is a ValueError listing the known ones."""
        with pytest.raises(ValueError, match="port-report"):
            kcf_spec.validate(GOOD, "kernelspec")  # type: ignore[arg-type]
