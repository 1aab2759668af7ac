"""find_connection_file: jupyter_client's rules, deterministic, with errors that say where."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kcf_client import find_connection_file
from kcf_spec import ConnectionFileNotFound


def touch(path: Path, mtime: float) -> Path:
    path.write_text("{}")
    os.utime(path, (mtime, mtime))
    return path


class TestFindConnectionFile:
    def test_find_existing_absolute_path(self, tmp_path: Path) -> None:
        """An absolute path to an existing file is returned as is."""
        f = touch(tmp_path / "anything.json", 1000)
        assert find_connection_file(str(f), path=[]) == f

    def test_find_exact_name_in_search_dir(self, tmp_path: Path) -> None:
        """A name is first looked up exactly in each search directory."""
        touch(tmp_path / "kernel-abc.json", 1000)
        touch(tmp_path / "kernel-abc.json.bak", 2000)
        assert (
            find_connection_file("kernel-abc.json", path=tmp_path) == tmp_path / "kernel-abc.json"
        )

    def test_find_substring_matches_like_jupyter_client(self, tmp_path: Path) -> None:
        """A bare substring 'abc' finds kernel-abc.json, as jupyter_client's '*abc*'."""
        touch(tmp_path / "kernel-abc.json", 1000)
        touch(tmp_path / "kernel-xyz.json", 2000)
        assert find_connection_file("abc", path=tmp_path).name == "kernel-abc.json"

    def test_find_glob_picks_newest_mtime(self, tmp_path: Path) -> None:
        """Among several matches the newest by modification time wins."""
        touch(tmp_path / "kernel-a.json", 3000)
        touch(tmp_path / "kernel-b.json", 1000)
        assert find_connection_file("kernel-*.json", path=tmp_path).name == "kernel-a.json"

    def test_find_ties_broken_by_name(self, tmp_path: Path) -> None:
        """Matches with equal mtimes resolve to the smallest path, whatever the listing order."""
        for n in ("kernel-c.json", "kernel-a.json", "kernel-b.json"):
            touch(tmp_path / n, 5000)
        assert find_connection_file("kernel-*.json", path=tmp_path).name == "kernel-a.json"

    def test_find_ignores_directories_named_like_files(self, tmp_path: Path) -> None:
        """A directory whose name matches is not a connection file."""
        (tmp_path / "kernel-dir.json").mkdir()
        touch(tmp_path / "kernel-file.json", 1)
        assert find_connection_file("kernel-*.json", path=tmp_path).name == "kernel-file.json"

    def test_find_searches_dirs_in_order_for_exact_names(self, tmp_path: Path) -> None:
        """An exact name present in two directories comes from the first one."""
        a, b = tmp_path / "a", tmp_path / "b"
        a.mkdir()
        b.mkdir()
        touch(a / "k.json", 1)
        touch(b / "k.json", 9)
        assert find_connection_file("k.json", path=[a, b]) == a / "k.json"

    def test_find_defaults_to_cwd_then_runtime_dir(
        self, runtime_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With no path, the runtime dir (JUPYTER_RUNTIME_DIR) is searched."""
        monkeypatch.chdir(tmp_path)
        f = touch(runtime_dir / "kernel-rt.json", 1)
        assert find_connection_file("rt") == f

    def test_find_error_names_pattern_and_dirs(self, tmp_path: Path) -> None:
        """Nothing matching raises ConnectionFileNotFound naming the pattern and each dir."""
        a, b = tmp_path / "a", tmp_path / "b"
        a.mkdir()
        with pytest.raises(ConnectionFileNotFound) as info:
            find_connection_file("nope", path=[a, b])
        assert info.value.pattern == "nope"
        assert info.value.searched == (str(a), str(b))
        assert "nope" in info.value.args[0]
        assert str(b) in info.value.args[0]

    def test_find_error_is_a_file_not_found_error(self, tmp_path: Path) -> None:
        """Callers catching FileNotFoundError keep working."""
        with pytest.raises(FileNotFoundError):
            find_connection_file("nope", path=tmp_path)

    def test_find_same_answer_as_jupyter_client_for_one_match(self, tmp_path: Path) -> None:
        """Where the answer is unique, jupyter_client and kcf agree."""
        from jupyter_client import find_connection_file as theirs

        touch(tmp_path / "kernel-only.json", 1)
        touch(tmp_path / "other.txt", 2)
        for q in ("only", "kernel-*.json", "kernel-only.json"):
            assert str(find_connection_file(q, path=tmp_path)) == theirs(q, path=[str(tmp_path)])

    def test_find_exact_name_does_not_list_directories(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An exact file name is found by a lookup alone; no directory is listed."""
        f = touch(tmp_path / "kernel-abc.json", 1)
        touch(tmp_path / "kernel-abc.json.newer", 9)

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("listed a directory")

        monkeypatch.setattr(os, "listdir", refuse)
        monkeypatch.setattr(os, "scandir", refuse)
        assert find_connection_file("kernel-abc.json", path=tmp_path) == f
        assert find_connection_file(str(f), path=[]) == f

    def test_find_ties_across_dirs_broken_by_dir(self, tmp_path: Path) -> None:
        """Equal mtimes in several directories resolve to the smallest directory path."""
        a, b = tmp_path / "a", tmp_path / "b"
        a.mkdir()
        b.mkdir()
        touch(b / "kernel-1.json", 7)
        touch(a / "kernel-2.json", 7)
        touch(b / "kernel-0.json", 3)
        assert find_connection_file("kernel-*.json", path=[b, a]) == a / "kernel-2.json"

    def test_find_newest_across_dirs_wins(self, tmp_path: Path) -> None:
        """The newest match wins whichever directory it is in."""
        a, b = tmp_path / "a", tmp_path / "b"
        a.mkdir()
        b.mkdir()
        touch(a / "kernel-1.json", 5)
        touch(b / "kernel-2.json", 6)
        assert find_connection_file("kernel", path=[a, b]) == b / "kernel-2.json"

    def test_find_skips_hidden_names_unless_pattern_is_hidden(self, tmp_path: Path) -> None:
        """As glob: '*' does not match a leading dot; a pattern starting with '.' does."""
        touch(tmp_path / ".kernel-h.json", 9)
        touch(tmp_path / "kernel-v.json", 1)
        assert find_connection_file("*.json", path=tmp_path).name == "kernel-v.json"
        assert find_connection_file("kernel", path=tmp_path).name == "kernel-v.json"
        assert find_connection_file(".k*", path=tmp_path).name == ".kernel-h.json"

    def test_find_glob_with_directory_part(self, tmp_path: Path) -> None:
        """A pattern with a directory part is searched under each directory."""
        (tmp_path / "sub").mkdir()
        f = touch(tmp_path / "sub" / "kernel-s.json", 1)
        touch(tmp_path / "kernel-top.json", 2)
        assert find_connection_file("sub/kernel-*.json", path=tmp_path) == f

    def test_find_glob_error_names_pattern_and_dirs(self, tmp_path: Path) -> None:
        """A glob matching nothing raises with the glob as given and every directory."""
        touch(tmp_path / "other.txt", 1)
        with pytest.raises(ConnectionFileNotFound) as info:
            find_connection_file("kernel-*.json", path=[tmp_path, tmp_path / "missing"])
        assert info.value.pattern == "kernel-*.json"
        assert info.value.searched == (str(tmp_path), str(tmp_path / "missing"))

    def test_find_expands_user_and_vars(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """'$VAR' in the directory and in the name are expanded."""
        f = touch(tmp_path / "kernel-v.json", 1)
        monkeypatch.setenv("KCF_TEST_DIR", str(tmp_path))
        monkeypatch.setenv("KCF_TEST_ID", "v")
        assert find_connection_file("kernel-$KCF_TEST_ID.json", path="$KCF_TEST_DIR") == f


_glob_names = st.lists(
    st.text(alphabet="ab.-[]*?!", min_size=1, max_size=5), max_size=12, unique=True
)


@settings(max_examples=200, deadline=None)
@given(names=_glob_names, pattern=st.text(alphabet="ab.-*?[]!", min_size=1, max_size=5))
def test_select_agrees_with_fnmatch_and_glob_hiding(names: list[str], pattern: str) -> None:
    """Name matching gives fnmatch.filter's answer, minus hidden names as glob hides them."""
    import fnmatch

    from kcf_client._find import _select

    expected = [
        n for n in fnmatch.filter(names, pattern) if pattern.startswith(".") or n[:1] != "."
    ]
    assert _select(names, pattern) == expected


_names = st.lists(
    st.tuples(
        st.sampled_from(["kernel-a", "kernel-b", "kernel-ab", "x-a", "kernel-c"]), st.integers(1, 4)
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda t: t[0],
)


@settings(max_examples=40, deadline=None)
@given(files=_names, query=st.sampled_from(["a", "kernel-*", "b", "*-a*"]))
def test_find_matches_reference_rule(
    tmp_path_factory: pytest.TempPathFactory, files: list[tuple[str, int]], query: str
) -> None:
    """For any set of files and mtimes, the answer is the newest match, ties by name."""
    import fnmatch

    d = tmp_path_factory.mktemp("prop")
    for name, t in files:
        touch(d / f"{name}.json", t * 1000)
    pat = query if "*" in query else f"*{query}*"
    expected = sorted(
        ((-t * 1000, str(d / f"{n}.json")) for n, t in files if fnmatch.fnmatch(f"{n}.json", pat))
    )
    if not expected:
        with pytest.raises(ConnectionFileNotFound):
            find_connection_file(query, path=d)
    else:
        assert str(find_connection_file(query, path=d)) == expected[0][1]
