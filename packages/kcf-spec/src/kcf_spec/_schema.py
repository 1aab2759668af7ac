"""Access to the bundled JSON Schemas, and precise errors from them.

PLACEHOLDER: the schema work (issue 2) replaces this module.
"""

from __future__ import annotations

from ._errors import ConnectionFileError
from ._validate import Profile

__all__ = ["explain"]


def explain(data: object, profile: Profile) -> ConnectionFileError:
    """Return the error the schema reports first for ``data`` under ``profile``."""
    if not isinstance(data, dict):
        return ConnectionFileError("a JSON object", value=data)
    return ConnectionFileError(f"a valid {profile}-profile connection document", value=data)
