"""The suite's one rule for absent real parts (node + ajv, sshd, FUSE, IPv6, root...).

With ``KCF_REQUIRE_REAL_PARTS=1`` (set by ``.ci/run``) an absent real part FAILS the test;
elsewhere (a developer machine without, say, sshd) it is skipped with the reason. Importable
from every test module (``tests`` is on pytest's ``pythonpath``); also offered as the
``missing_real_part`` fixture by the root ``conftest.py``.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["missing_real_part"]


def missing_real_part(reason: str) -> NoReturn:
    """Fail (CI) or skip (elsewhere) because a real part is absent."""
    __tracebackhide__ = True
    if os.environ.get("KCF_REQUIRE_REAL_PARTS") == "1":
        pytest.fail(f"real part missing (KCF_REQUIRE_REAL_PARTS=1): {reason}")
    pytest.skip(f"real part missing: {reason}")
