"""The traced program runs as plain python runs it: its argv, __main__, __file__,
sys.path[0], -m, its streams and stdin, its exit status, the interpreter it asks for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ESC, require_python
from tracing import counts, plain, program_stdout, trace, write

ECHO = '''
"""The program's own docstring."""
import json
import os
import sys

print(json.dumps({
    "argv": sys.argv,
    "name": __name__,
    "file": __file__,
    "path0": sys.path[0],
    "doc": __doc__,
    "spec": repr(__spec__),
    "package": __package__,
    "cwd": os.getcwd(),
}))
print("héllo ✓ on stdout")
sys.stdout.flush()
print("a line on stderr", file=sys.stderr)
sys.exit(int(os.environ.get("ECHO_STATUS", "7")))
'''


def test_the_program_sees_what_plain_python_gives_it(tmp_path: Path) -> None:
    """sys.argv (poolctl's options before the program, every word after it the program's,
    poolctl's own option names and '--' included), __name__ == '__main__', __file__,
    sys.path[0], its docstring; its stdout and stderr through, its exit status as
    poolctl's."""
    program = write(tmp_path, "echo.py", ECHO)
    words = ["a", "-x", "--flag=1", "--timeout", "30", "b c", "--", "--json", "--timeout", "3"]
    run = trace("--timeout", "30", str(program), *words, json_doc=False)
    expected = plain(str(program), *words)
    assert expected.returncode == 7
    assert run.status == 7
    # The program's stdout first, then a blank line, then poolctl's report.
    assert run.stdout.startswith(expected.stdout + "\n"), run.stdout
    assert "The program  exited with status 7" in run.stdout
    assert run.stderr == expected.stderr == "a line on stderr\n"
    seen = json.loads(expected.stdout.splitlines()[0])
    assert seen["argv"][1:] == words
    assert seen["name"] == "__main__"
    assert seen["path0"] == str(tmp_path)
    assert seen["doc"] == "The program's own docstring."


def test_with_json_stdout_is_the_document_and_the_programs_stdout_goes_to_stderr(
    tmp_path: Path,
) -> None:
    """--json anywhere before '--': stdout is exactly one JSON document; the program's
    stdout comes out on stderr (its stderr too), and both are recorded in 'output'."""
    program = write(tmp_path, "echo.py", ECHO)
    run = trace("--timeout", "30", str(program), "first", json_doc=True)
    assert run.status == 7
    assert run.doc is not None
    assert run.stdout.endswith("}\n") and ESC not in run.stdout
    # Its two streams arrive on two pipes: which poolctl reads first is not told.
    lines = program_stdout(run.stderr)
    [seen] = [json.loads(line) for line in lines if line.startswith("{")]
    assert seen["argv"] == [str(program), "first"]
    assert sorted(line for line in lines if not line.startswith("{")) == [
        "a line on stderr",
        "héllo ✓ on stdout",
    ]
    doc = run.doc
    assert doc["schema"] == "poolctl.run/1"
    assert doc["program"] == {
        "argv": [str(program), "first"],
        "path": str(program),
        "module": None,
        "name": str(program),
    }
    assert doc["params"]["timeout"] == 30.0
    assert (doc["expected"], doc["checks"], doc["matches"]) == (None, [], None)
    assert doc["outcome"]["pools"] == [] and doc["outcome"]["main"]["exit_code"] == 7
    recorded = [(o["stream"], o["text"]) for o in doc["output"]]
    assert ("stdout", "héllo ✓ on stdout") in recorded
    assert ("stderr", "a line on stderr") in recorded


def test_stdin_piped_in_reaches_the_program(tmp_path: Path) -> None:
    """Input piped to poolctl is the program's stdin: here each line becomes a task."""
    program = write(
        tmp_path,
        "lines.py",
        """
        import sys
        from multiprocessing import get_context


        def shout(line):
            return line.strip().upper()


        if __name__ == '__main__':
            lines = sys.stdin.readlines()
            with get_context('forkserver').Pool(2) as pool:
                print(pool.map(shout, lines))
        """,
    )
    run = trace(str(program), stdin="one\ntwo\nthree\n")
    assert run.status == 0, run.stderr
    assert program_stdout(run.stderr) == ["['ONE', 'TWO', 'THREE']"]
    assert run.doc is not None
    assert run.doc["outcome"]["tasks"] == counts(submitted=3, started=3, completed=3)
    empty = trace(str(program))  # nothing piped in: the program reads an empty stdin
    assert program_stdout(empty.stderr) == ["[]"]


MODULE = """
import json
import sys
from multiprocessing import get_context


def square(x):
    return x * x


if __name__ == '__main__':
    print(json.dumps({"argv": sys.argv, "name": __name__, "spec": __spec__.name}))
    with get_context('spawn').Pool(2) as pool:
        print(pool.map(square, [int(a) for a in sys.argv[1:]]))
"""


def test_a_module_with_minus_m(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """-m package.module ARGS from the current folder: the module's argv, __name__ and
    __spec__ as under 'python -m'; a spawn pool whose task function lives in the module."""
    write(tmp_path, "tools/__init__.py", "")
    write(tmp_path, "tools/squares.py", MODULE)
    monkeypatch.chdir(tmp_path)
    run = trace("--timeout", "30", "-m", "tools.squares", "2", "3", "4")
    expected = plain("-m", "tools.squares", "2", "3", "4")
    assert run.status == expected.returncode == 0, run.stderr
    assert run.stderr == expected.stdout
    seen = json.loads(expected.stdout.splitlines()[0])
    assert seen == {
        "argv": [str(tmp_path / "tools" / "squares.py"), "2", "3", "4"],
        "name": "__main__",
        "spec": "tools.squares",
    }
    assert run.doc is not None
    assert run.doc["program"]["module"] == "tools.squares"
    assert run.doc["program"]["argv"] == ["-m", "2", "3", "4"]
    assert run.doc["outcome"]["tasks"] == counts(submitted=3, started=3, completed=3)
    assert run.doc["outcome"]["pools"][0]["start_method"] == "spawn"


@pytest.mark.parametrize(
    "words",
    [
        ["-h", "--json", "--timeout", "3", "-m", "x"],
        ["--help", "--python", "nowhere", "--", "--json", "--no-color"],
        ["-m", "*Pool*", "--svg", "x.svg"],
    ],
    ids=["poolctl-options", "double-dash", "second-m"],
)
def test_every_word_after_the_program_is_the_programs(tmp_path: Path, words: list[str]) -> None:
    """As with python (and cProfile, coverage run, viztracer): the program's path ends
    poolctl's options; -h, --json, --timeout, -m and '--' after it reach sys.argv
    unchanged, and poolctl prints its report, not JSON or its help."""
    program = write(tmp_path, "args.py", "import sys\nprint(sys.argv[1:])\n")
    expected = plain(str(program), *words)
    run = trace(str(program), *words, json_doc=False)
    assert run.status == expected.returncode == 0, run.stderr
    assert expected.stdout == f"{words}\n"
    assert run.stdout.startswith(expected.stdout + "\n"), run.stdout
    assert "The program  exited with status 0" in run.stdout  # poolctl's report
    assert not (tmp_path / "x.svg").exists()


def test_minus_m_ends_poolctls_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'poolctl trace -m MODULE -m x --json -h' (CPython's 'python -m test ... -m *Pool*'):
    every word after the module is the module's, as under 'python -m'; poolctl's options
    come before -m (--json here), '-mMODULE' as python takes it, '--' before the program."""
    write(tmp_path, "args_module.py", "import sys\nprint(sys.argv[1:])\n")
    monkeypatch.chdir(tmp_path)
    words = ["-m", "*Pool*", "--json", "-h", "--", "--timeout"]
    expected = plain("-m", "args_module", *words)
    assert expected.stdout == f"{words}\n"
    for spelling in (["-m", "args_module"], ["-margs_module"], ["--", "-m", "args_module"]):
        if spelling[0] == "--":  # after '--', -m is a program's path: not found, as python
            run = trace("--", *spelling[1:], json_doc=False)
            assert run.status == 127, run.stderr
            continue
        run = trace(*spelling, *words)  # trace() puts --json first: poolctl's
        assert run.status == 0, run.stderr
        assert run.stderr == expected.stdout
        assert run.doc is not None
        assert run.doc["program"]["argv"] == ["-m", *words]


def test_double_dash_before_the_program_ends_poolctls_options(tmp_path: Path) -> None:
    """'poolctl trace -- PROG --json': '--' ends poolctl's options; PROG gets --json."""
    program = write(tmp_path, "args.py", "import sys\nprint(sys.argv[1:])\n")
    run = trace("--", str(program), "--json", json_doc=False)
    assert run.status == 0, run.stderr
    assert run.stdout.startswith("['--json']\n\n"), run.stdout
    assert "\nThe program  exited with status 0" in run.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(run.stdout)


# --- plain python's __main__, which trace once broke (regressions) ------------------------


def test_main_module_globals_are_plain_pythons(tmp_path: Path) -> None:
    """The __main__ module the program runs in has the names plain python gives it.

    Was broken (program_main._run_script): __annotations__ was missing (plain python 3.8-3.13
    starts __main__ with __annotations__ = {}), so 'print(__annotations__)' raised
    NameError in a traced program only. Python 3.14 no longer puts it there (annotations
    are evaluated lazily): a traced program must not have it either.
    """
    program = write(
        tmp_path,
        "names.py",
        "import sys\nprint(sorted(globals()))\n"
        "print(globals().get('__annotations__', 'no __annotations__'))\n",
    )
    run = trace(str(program))
    expected = plain(str(program))
    assert expected.returncode == 0
    assert run.status == 0, run.stderr
    assert run.stderr == expected.stdout


def test_main_module_globals_under_minus_m_are_plain_pythons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """-m too: no name of poolctl's bootstrap (it once left 'sys' and 'main') in __main__."""
    write(tmp_path, "names.py", "print(sorted(globals()))\n")
    monkeypatch.chdir(tmp_path)
    run = trace("-m", "names")
    expected = plain("-m", "names")
    assert expected.returncode == 0
    assert run.status == 0, run.stderr
    assert run.stderr == expected.stdout


# --- another interpreter ----------------------------------------------------------------


UNDER = """
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context


def work(x):
    time.sleep(0.05)
    return x + 1


if __name__ == '__main__':
    context = get_context('spawn')
    with context.Pool(2) as pool:
        first = pool.map(work, range(3))
    with ProcessPoolExecutor(2, mp_context=context) as executor:
        second = list(executor.map(work, range(4), chunksize=2))
    print('%d.%d' % sys.version_info[:2], first + second)
"""


@pytest.mark.parametrize("version", ["3.8", "3.13"])
def test_under_another_interpreter(tmp_path: Path, version: str) -> None:
    """--python: the program runs under that interpreter, oldest and newest supported."""
    python = require_python(version)
    program = write(tmp_path, "under.py", UNDER)
    run = trace("--python", str(python), str(program))
    assert run.status == 0, run.stderr
    assert program_stdout(run.stderr) == [f"{version} [1, 2, 3, 1, 2, 3, 4]"]
    assert run.doc is not None
    assert run.doc["python"]["version"].startswith(f"{version}.")
    assert run.doc["python"]["executable"] == str(python)
    assert [p["tasks"]["completed"] for p in run.doc["outcome"]["pools"]] == [3, 4]
    assert run.doc["outcome"]["tasks"] == counts(submitted=7, started=7, completed=7)
