"""poolctl new NAME: a name that could not be written as it is into the file (a quote, a
backslash, a space...) is refused; whatever the folder, the file written loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from poolctl import scenario

pytestmark = pytest.mark.timeout(60)

RULE = (
    "is not a scenario name (use letters, digits, '.', '_' and '-',"
    " starting with a letter or digit)"
)
BAD_NAMES = {
    "quote": ('my"case', "'my\"case'"),
    "backslash": ("back\\slash", "'back\\\\slash'"),
    "space": ("my case", "'my case'"),
    "line-break": ("my\ncase", "'my\\ncase'"),
    "slash": ("a/b", "'a/b'"),
    "dot-dot": ("../escape", "'../escape'"),
    "dot-first": (".hidden", "'.hidden'"),
    "underscore-first": ("_x", "'_x'"),
    "not-ascii": ("café", "'café'"),
    "colon": ("a:b", "'a:b'"),
    "empty": ("", "''"),
    "only-suffix": (".toml", "'.toml'"),
}


@pytest.mark.parametrize(("name", "shown"), BAD_NAMES.values(), ids=list(BAD_NAMES))
def test_a_bad_name_is_refused(tmp_path: Path, name: str, shown: str) -> None:
    """Exit 2, one line saying what a name may hold, nothing written anywhere."""
    folder = tmp_path / "here"
    (folder / "a").mkdir(parents=True)  # so that 'a/b' could be written, were it allowed
    before = sorted(tmp_path.rglob("*"))
    result = run_cli("new", name, "--dir", str(folder), script=True)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"poolctl: new: {shown} {RULE}\n"
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("name", ["x", "my-case", "my_case.v2", "2nd", "A-b_C.d"])
def test_a_good_name_makes_a_file_that_loads(tmp_path: Path, name: str) -> None:
    """Letters, digits, '.', '_', '-': the file is written, loads and keeps the name."""
    result = run_cli("new", name, "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    loaded = scenario.load_file(tmp_path / f"{name}.toml")
    assert loaded.name == name
    assert loaded.summary.startswith(f"{name}: ")


def test_a_name_typed_as_its_file_name_is_that_name(tmp_path: Path) -> None:
    """'new case.toml' writes case.toml (not case.toml.toml), the scenario named 'case'."""
    result = run_cli("new", "case.toml", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml"]
    assert (result.stdout, result.stderr) == ("", f"wrote {tmp_path / 'case.toml'}\n")
    assert scenario.load_file(tmp_path / "case.toml").name == "case"


def test_an_odd_folder_still_makes_a_file_that_loads(tmp_path: Path) -> None:
    """The path is shown in a comment of the file: a line break in it is escaped there."""
    folder = tmp_path / 'odd\nfolder "\\x'
    folder.mkdir()
    result = run_cli("new", "case", "--dir", str(folder))
    assert result.returncode == 0, result.stderr
    path = folder / "case.toml"
    assert scenario.load_file(path).name == "case"
    escaped = str(path).replace("\n", "\\n")
    assert path.read_text().splitlines()[1] == f"# Run it with:  poolctl run {escaped}"
