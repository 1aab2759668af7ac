"""The public surface: every exported name exists, is documented, and errors are ours."""

from __future__ import annotations

import inspect
import re

import kcf_kernel
import pytest
from kcf_spec import KcfError


def test_all_names_exist() -> None:
    """Every name in __all__ is an attribute of the package, listed once."""
    assert len(set(kcf_kernel.__all__)) == len(kcf_kernel.__all__)
    missing = [n for n in kcf_kernel.__all__ if not hasattr(kcf_kernel, n)]
    assert missing == []


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in kcf_kernel.__all__
        if inspect.isclass(getattr(kcf_kernel, n)) or inspect.isfunction(getattr(kcf_kernel, n))
    ],
)
def test_public_item_documents_versionadded(name: str) -> None:
    """Each public class and function has a docstring with its versionadded."""
    doc = inspect.getdoc(getattr(kcf_kernel, name)) or ""
    assert re.search(r"\.\. versionadded:: 0\.\d+\.\d+", doc)


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in kcf_kernel.__all__
        if inspect.isclass(getattr(kcf_kernel, n))
        and issubclass(getattr(kcf_kernel, n), BaseException)
        and not issubclass(getattr(kcf_kernel, n), Warning)
    ],
)
def test_errors_derive_from_kcf_error(name: str) -> None:
    """Every exported exception derives from kcf_spec.KcfError."""
    assert issubclass(getattr(kcf_kernel, name), KcfError)


def test_error_messages_survive_oserror_attributes() -> None:
    """OSError-based errors keep their message in str() after filename/errno are set."""
    err = kcf_kernel.WriteError("/x/k.json", "the directory /x is not writable", 13)
    assert str(err) == "cannot write /x/k.json: the directory /x is not writable"
    assert err.errno == 13
    assert err.filename == "/x/k.json"
