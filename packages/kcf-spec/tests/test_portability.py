"""``portability_warnings``: files kcf reads but other readers refuse or read differently.

The claims about other readers are checked against the real ones present here: Python's
``json`` as jupyter_client uses it (text decoded, then ``json.loads``), and Node's
``JSON.parse`` for JavaScript.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kcf_spec import ConnectionInfo, PortabilityWarning, portability_warnings

GOOD = {
    "shell_port": 5001,
    "iopub_port": 5002,
    "stdin_port": 5003,
    "control_port": 5004,
    "hb_port": 5005,
    "ip": "127.0.0.1",
    "transport": "tcp",
    "key": "a-secret-key-0123",
    "signature_scheme": "hmac-sha256",
}
TEXT = json.dumps(GOOD)


def _codes(data: bytes) -> list[str]:
    return [w.code for w in portability_warnings(data)]


class TestEncodings:
    @pytest.mark.parametrize(
        ("data", "code"),
        [
            (b"\xef\xbb\xbf" + TEXT.encode(), "utf-8-bom"),
            (TEXT.encode("utf-16"), "utf-16"),
            (TEXT.encode("utf-16-le"), "utf-16"),
            (TEXT.encode("utf-16-be"), "utf-16"),
            (TEXT.encode("utf-32"), "utf-32"),
            (TEXT.encode("utf-32-le"), "utf-32"),
            (TEXT.encode("utf-32-be"), "utf-32"),
        ],
    )
    def test_kcf_reads_it_but_it_is_warned(self, data: bytes, code: str) -> None:
        """kcf loads these (as json.loads on bytes does); each gets a warning naming
        jupyter_client among the readers that fail."""
        assert ConnectionInfo.loads(data).shell_port == 5001
        warnings = portability_warnings(data)
        assert [w.code for w in warnings] == [code]
        assert any("jupyter_client" in r for r in warnings[0].readers)
        assert "a-secret-key" not in str(warnings[0])

    def test_jupyter_client_really_fails_on_a_bom(self) -> None:
        """The claim holds: jupyter_client's way (decode as UTF-8 text, json.loads) fails."""
        with pytest.raises(json.JSONDecodeError, match="BOM"):
            json.loads((b"\xef\xbb\xbf" + TEXT.encode()).decode("utf-8"))

    def test_javascript_really_fails_on_a_bom(self) -> None:
        """The claim holds: Node's JSON.parse refuses a BOM'd text."""
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is not installed (it is a real part of this test suite)")
        script = (
            "try { JSON.parse('\\uFEFF{}'); console.log('ok') } catch (e) { console.log('err') }"
        )
        out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == "err"


class TestDuplicates:
    def test_repeated_name_warned_without_its_value(self) -> None:
        """A repeated name is named (names are not secret), its values are not shown."""
        data = TEXT[:-1].encode() + b', "key": "SECOND-SECRET"}'
        warnings = portability_warnings(data)
        assert [w.code for w in warnings] == ["duplicate-name"]
        assert '"key"' in warnings[0].message
        assert "SECOND" not in str(warnings[0])

    def test_nested_repeat_found(self) -> None:
        """Repeats inside nested objects count too."""
        data = TEXT[:-1].encode() + b', "extra": {"a": 1, "a": 2}}'
        assert _codes(data) == ["duplicate-name"]

    def test_bom_and_repeat_both_reported_in_order(self) -> None:
        """Encoding first, then repeated names."""
        data = b"\xef\xbb\xbf" + TEXT[:-1].encode() + b', "ip": "127.0.0.1"}'
        assert _codes(data) == ["utf-8-bom", "duplicate-name"]


class TestClean:
    def test_plain_utf8_file_has_no_warning(self) -> None:
        """What kcf and jupyter_client write gives no warning."""
        assert portability_warnings(ConnectionInfo.loads(TEXT).dumps().encode()) == []

    def test_not_json_gives_no_warning(self) -> None:
        """Bytes that are not JSON give no warning here (loading them gives the error)."""
        assert portability_warnings(b"{not json") == []

    @given(st.dictionaries(st.text(max_size=8), st.integers(), max_size=6))
    def test_any_unique_utf8_object_is_clean(self, doc: dict[str, int]) -> None:
        """Any UTF-8 JSON object without repeats gives no warning."""
        assert portability_warnings(json.dumps(doc, ensure_ascii=False).encode()) == []

    def test_value_shape(self) -> None:
        """A warning is a frozen value with code, message and readers."""
        (w,) = portability_warnings(b"\xef\xbb\xbf{}")
        assert isinstance(w, PortabilityWarning)
        assert w == PortabilityWarning(w.code, w.message, w.readers)
        assert "fails in:" in str(w)
