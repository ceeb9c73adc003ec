"""show --code writes a user's text (the summary, the file's path) into the program only as
comments: whatever it holds, the program compiles and runs nothing of it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from poolctl import scenario

pytestmark = pytest.mark.timeout(60)

# Closes the old docstring and runs code; a bad escape; line breaks of every kind.
SUMMARY = (
    'x"""; import os; os._exit(9); """ then \\x, \\N and \\\\\nline two\r\nthree\rfour\u2028\0'
)
FILE = (
    f"summary = {json.dumps(SUMMARY)}\n"
    'steps = ["close", "join"]\n'
    "[tasks]\nduration = 0.05\n"
    '[expect]\ncompleted = "all"\n'
)


def calls_and_imports(tree: ast.AST) -> set[str]:
    """The names the program imports and the attributes it calls."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            found.add(node.func.attr)
    return found


@pytest.mark.parametrize("folder", ["plain", 'odd """ \\x\nfolder'])
def test_a_summary_is_never_code(marker: str, tmp_path: Path, folder: str) -> None:
    """The summary (and the path, in an odd folder) land in comments: the program compiles,
    imports no os, calls no _exit, and runs to its end with status 0."""
    directory = tmp_path / folder
    directory.mkdir()
    path = directory / "case.toml"
    path.write_text(FILE)
    assert scenario.load_file(path).summary == SUMMARY
    code = run_cli("show", str(path), "--code", script=True)
    assert code.returncode == 0, code.stderr
    tree = ast.parse(compile(code.stdout, "program.py", "exec", ast.PyCF_ONLY_AST))
    assert not {"os", "_exit"} & calls_and_imports(tree)
    for line in code.stdout.splitlines():
        if "_exit" in line or "folder" in line:
            assert line.startswith("# "), line
    header = code.stdout.split("\n\n", 1)[0].splitlines()
    assert all(line == "#" or line.startswith("# ") for line in header), header
    assert header[0] == '# x"""; import os; os._exit(9); """ then \\x, \\N and \\\\'
    program = tmp_path / "program.py"
    program.write_text(code.stdout)
    plain = subprocess.run(
        [sys.executable, str(program)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[-1] == "Main done"


def test_the_bundled_summaries_are_the_first_comment(tmp_path: Path) -> None:
    """An ordinary summary reads as it is, on the program's first line."""
    for name in scenario.bundled_names():
        needed = scenario.load(name).requires_python
        if needed is not None and sys.version_info < needed:
            continue  # show --code refuses it here (tests/test_scenario_files.py)
        code = run_cli("show", name, "--code")
        assert code.returncode == 0, code.stderr
        assert code.stdout.startswith(f"# {scenario.load(name).summary}\n"), name
