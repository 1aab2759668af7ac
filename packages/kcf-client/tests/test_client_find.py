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

    def test_find_part_prefers_kernel_json_over_newer_log(self, tmp_path: Path) -> None:
        """'abc' finds kernel-abc.json even when a log named after the kernel is newer."""
        touch(tmp_path / "kernel-abc.json", 1000)
        touch(tmp_path / "ipk_abc.log", 2000)
        assert find_connection_file("abc", path=tmp_path) == tmp_path / "kernel-abc.json"

    def test_find_part_never_picks_a_non_json_file(self, tmp_path: Path) -> None:
        """A part of a name matching only a log file finds nothing, naming the part."""
        touch(tmp_path / "ipk_abc.log", 2000)
        with pytest.raises(ConnectionFileNotFound) as info:
            find_connection_file("abc", path=tmp_path)
        assert info.value.pattern == "abc"

    def test_find_part_prefers_kernel_files_then_other_json(self, tmp_path: Path) -> None:
        """kernel-*abc*.json wins over a newer abc.json; the list gives the ranking."""
        from kcf_client import find_connection_files

        touch(tmp_path / "kernel-abc.json", 1000)
        touch(tmp_path / "abc.json", 3000)
        touch(tmp_path / "kernel-abcd.json", 2000)
        assert find_connection_file("abc", path=tmp_path).name == "kernel-abcd.json"
        assert [p.name for p in find_connection_files("abc", path=tmp_path)] == [
            "kernel-abcd.json",
            "kernel-abc.json",
            "abc.json",
        ]

    def test_find_empty_name_is_an_error(self, tmp_path: Path) -> None:
        """An empty name is refused (it used to pick the newest file of the directory)."""
        from kcf_client import find_connection_files

        touch(tmp_path / "kernel-a.json", 1)
        with pytest.raises(ValueError, match="empty"):
            find_connection_file("", path=tmp_path)
        with pytest.raises(ValueError, match="empty"):
            find_connection_files("", path=tmp_path)

    def test_find_files_exact_name_is_alone(self, tmp_path: Path) -> None:
        """An existing file name gives that file alone, as find_connection_file returns it."""
        from kcf_client import find_connection_files

        f = touch(tmp_path / "kernel-a.json", 1)
        touch(tmp_path / "kernel-a.json.json", 2)
        assert find_connection_files("kernel-a.json", path=tmp_path) == [f]

    def test_find_glob_skips_non_regular_newest(self, tmp_path: Path) -> None:
        """A newer directory or FIFO matching the glob is passed over for the regular file."""
        touch(tmp_path / "kernel-file.json", 1)
        d = tmp_path / "kernel-dir.json"
        d.mkdir()
        os.utime(d, (9, 9))
        os.mkfifo(tmp_path / "kernel-fifo.json")
        assert find_connection_file("kernel-*.json", path=tmp_path).name == "kernel-file.json"


_glob_names = st.lists(
    st.text(alphabet="ab.-[]*?!", min_size=1, max_size=5), max_size=12, unique=True
)


@settings(max_examples=300, deadline=None)
@given(names=_glob_names, pattern=st.text(alphabet="ab.-*?[]!", min_size=0, max_size=5))
def test_select_agrees_with_fnmatch_and_glob_hiding(names: list[str], pattern: str) -> None:
    """Name matching gives fnmatch.filter's answer, minus hidden names as glob hides them."""
    import fnmatch

    from kcf_client._scan import select_names

    expected = [
        n for n in fnmatch.filter(names, pattern) if pattern.startswith(".") or n[:1] != "."
    ]
    assert select_names(names, pattern) == expected


_names = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "kernel-a.json",
                "kernel-b.json",
                "kernel-ab.json",
                "x-a.json",
                "kernel-c.json",
                "ipk_a.log",
                "a.json",
                "kernel-a.json.log",
                ".kernel-a.json",
            ]
        ),
        st.integers(1, 4),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda t: t[0],
)


def _reference(files: list[tuple[str, int]], query: str) -> list[str]:
    """The documented rule, written plainly: the names find_connection_files returns, in order."""
    import fnmatch

    def visible(n: str, pat: str) -> bool:
        return fnmatch.fnmatch(n, pat) and (pat.startswith(".") or not n.startswith("."))

    if "*" in query:
        return [n for _, n in sorted((-t, n) for n, t in files if visible(n, query))]
    ranked = []
    for n, t in files:
        if not visible(n, f"*{query}*") or not n.endswith(".json"):
            continue
        tier = 0 if n.startswith("kernel-") and query in n[len("kernel-") : -len(".json")] else 1
        ranked.append((tier, -t, n))
    return [n for _, _, n in sorted(ranked)]


@settings(max_examples=60, deadline=None)
@given(files=_names, query=st.sampled_from(["a", "kernel-*", "b", "*-a*", "json", "*"]))
def test_find_matches_reference_rule(
    tmp_path_factory: pytest.TempPathFactory, files: list[tuple[str, int]], query: str
) -> None:
    """For any set of files and mtimes, the answer follows the documented ranking."""
    from kcf_client import find_connection_files

    d = tmp_path_factory.mktemp("prop")
    for name, t in files:
        touch(d / name, t * 1000)
    expected = _reference(files, query)
    if not expected:
        with pytest.raises(ConnectionFileNotFound):
            find_connection_file(query, path=d)
        with pytest.raises(ConnectionFileNotFound):
            find_connection_files(query, path=d)
    else:
        assert find_connection_file(query, path=d) == d / expected[0]
        assert find_connection_files(query, path=d) == [d / n for n in expected]
