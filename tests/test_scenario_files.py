"""A user's own scenario files: they run, bad ones are refused with file and line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CliResult, run_cli
from poolctl import codegen, scenario
from poolctl.pool_kinds import KINDS

GOOD = """\
summary = "my case"
steps = ["close", "join"]
[pool]
workers = 2
[tasks]
count = 2
duration = 0.1
[expect]
completed = "all"
"""


def test_a_users_file_runs(marker: str, tmp_path: Path) -> None:
    """poolctl run ./file.toml: observed, and it matches."""
    path = tmp_path / "my-case.toml"
    path.write_text(GOOD)
    result = run_cli("run", str(path), "--no-color")
    assert result.returncode == 0, result.stderr
    assert "my-case" in result.stdout and "✓ matches" in result.stdout


def test_a_file_is_data_never_code(marker: str, tmp_path: Path) -> None:
    """Python in a string value is a string: nothing executes it."""
    witness = tmp_path / "executed"
    path = tmp_path / "data.toml"
    path.write_text(GOOD.replace('"my case"', f"\"__import__('os').system('touch {witness}')\""))
    assert run_cli("run", str(path), "--duration", "0.05").returncode == 0
    assert not witness.exists()


BAD = [
    ("unknown top-level key", 'sumary = "x"\nsteps = []\n', ":1: sumary: unknown key; did you mean 'summary'?"),
    ("unknown pool key", 'summary = "x"\nsteps = []\n[pool]\nworker = 2\n', ":4: pool.worker: unknown key; did you mean 'workers'?"),
    ("unknown expect key", 'summary = "x"\nsteps = []\n[expect]\ncomplted = 1\n', ":4: expect.complted: unknown key"),
    ("wrong type", 'summary = "x"\nsteps = []\n[pool]\nworkers = "two"\n', ":4: pool.workers must be a whole number"),
    ("zero workers", 'summary = "x"\nsteps = []\n[pool]\nworkers = 0\n', ":4: pool.workers must be between 1 and 128"),
    ("negative duration", 'summary = "x"\nsteps = []\n[tasks]\nduration = -1\n', ":4: tasks.duration must be 0 to 3600 seconds"),
    ("nan duration", 'summary = "x"\nsteps = []\n[tasks]\nduration = nan\n', ":4: tasks.duration must be a finite number"),
    ("too many tasks", 'summary = "x"\nsteps = []\n[tasks]\ncount = 1000000\n', ":4: tasks.count must be between 0 and 100000"),
    ("hung not a bool", 'summary = "x"\nsteps = []\n[expect]\nhung = "no"\n', ":4: expect.hung: expected true or false"),
    ("unknown step", 'summary = "x"\nsteps = ["clsoe"]\n', ":2: steps[0]: unknown step 'clsoe'; did you mean 'close'?"),
    ("step for another api", 'summary = "x"\nsteps = ["shutdown"]\n', ":2: steps[0]: 'shutdown' makes no sense for api = 'pool'"),
    ("close for an executor", 'summary = "x"\nsteps = ["close"]\n[pool]\napi = "executor"\n', "steps[0]: 'close' makes no sense for api = 'executor'"),
    ("kill-worker in a thread pool", 'summary = "x"\nsteps = ["kill-worker"]\n[pool]\napi = "threadpool"\n', "'kill-worker' makes no sense for api = 'threadpool'"),
    ("start method of a thread pool", 'summary = "x"\nsteps = []\n[pool]\napi = "threadpool"\nstart_method = "fork"\n', ":5: pool.start_method: a thread pool starts no processes"),
    ("maxtasksperchild of an executor", 'summary = "x"\nsteps = []\n[pool]\napi = "executor"\nmaxtasksperchild = 1\n', ":5: pool.maxtasksperchild: only for api = 'pool'"),
    ("submit for a pool", 'summary = "x"\nsteps = []\n[tasks]\nsubmit = "submit"\n', ":4: tasks.submit: 'submit' is not allowed here"),
    ("invalid TOML", 'summary = "x"\nsteps = [\nfoo bar\n', "invalid TOML"),
    ("empty file", "", "summary: missing"),
    ("race without why", 'summary = "x"\nsteps = []\n[[race]]\noutput = "x"\n', ":3: race[0]: each [[race]] needs 'why'"),
    ("race item not a table", 'summary = "x"\nsteps = []\nrace = [""]\n', ":3: race[0]: expected a table ([[race]]), not ''"),
    ("bad version", 'summary = "x"\nsteps = []\nrequires_python = "three"\n', ":3: requires_python: expected a version such as '3.9'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in BAD], ids=[label for label, _, _ in BAD]
)
def test_bad_files_get_one_located_line(tmp_path: Path, text: str, expected: str) -> None:
    """Exit 2, one line naming the file (and line), no traceback, nothing run."""
    path = tmp_path / "case.toml"
    path.write_text(text)
    result = run_cli("run", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"poolctl: {path}")
    assert expected in lines[0]


# Where an array's items must be tables (or, for steps, names): any other item is one
# located line, never an internal error. Each file's offending item is on line 3.
NOT_TABLES = ['""', "1", "1.5", "true", "[1]", "[]", "1979-05-27"]
ARRAYS_OF_TABLES = {
    "race": "race[0]: expected a table ([[race]]), not ",
    "steps": "steps[0]: expected a step name or a table with 'step'",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("item", NOT_TABLES)
@pytest.mark.parametrize("field", sorted(ARRAYS_OF_TABLES))
@pytest.mark.parametrize("command", ["run", "show"])
def test_items_that_are_not_tables(tmp_path: Path, command: str, field: str, item: str) -> None:
    """race = [""] or steps = [1]: exit 2 and one line naming the item, for run and show."""
    if field == "steps" and item == '""':
        item = "{}"  # an empty string is a step name, an unknown one: another case
    text = 'summary = "x"\n' + ("steps = []\n" if field == "race" else "")
    text += "\n" * (2 - text.count("\n")) + f"{field} = [{item}]\n"
    path = tmp_path / "case.toml"
    path.write_text(text)
    result = run_cli(command, str(path), script=True)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.startswith(f"poolctl: {path}:3: {ARRAYS_OF_TABLES[field]}")
    assert len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("table", ["pool", "tasks", "expect"])
def test_an_array_of_tables_where_a_table_belongs(tmp_path: Path, table: str) -> None:
    """[[pool]] instead of [pool]: one located line."""
    path = tmp_path / "case.toml"
    path.write_text(f'summary = "x"\nsteps = []\n[[{table}]]\n')
    result = run_cli("run", str(path))
    assert result.returncode == 2
    assert result.stderr == f"poolctl: {path}:3: {table}: expected a table\n"


HEAD = 'summary = "x"\nsteps = ["close", "join"]\n'
# The same key in two tables, or a step's option: the line named is the offending one.
LOCATED = [
    ("expect.hung after a race's hung", HEAD + '[[race]]\nhung = true\nwhy = "w"\n[expect]\nhung = "no"\n', 7, "expect.hung: expected true or false"),
    ("second race without why", HEAD + '[[race]]\noutput = "Task done"\nwhy = "w"\n[[race]]\noutput = "Main done"\n', 6, "race[1]: each [[race]] needs 'why'"),
    ("unknown key of the second race", HEAD + '[[race]]\nhung = true\nwhy = "w"\n[[race]]\nhung = true\nwhy = "w"\nhow = 1\n', 9, "race[1].how: unknown key"),
    ("expect.workers after pool.workers", HEAD + "[pool]\nworkers = 2\n[expect]\nworkers = 1\n", 6, "expect.workers: unknown key"),
    ("pool.workers after expect's key in a comment", HEAD + "# workers = 1\n[expect]\n'hung' = true\n[pool]\nworkers = 0\n", 7, "pool.workers must be between 1 and 128"),
    ("a dotted key", HEAD + "[pool]\napi = 'pool'\n[expect]\nhung = true\n[tasks]\ncount = 1\n\npool.x = 1\n", 10, "tasks.pool: unknown key"),
    ("unknown option of a step", 'summary = "x"\nsteps = [{ step = "sleep", secs = 1 }]\n', 2, "steps[0].secs: unknown key; did you mean 'seconds'?"),
    ("bad option value of a step", 'summary = "x"\nsteps = [{ step = "sleep", seconds = -1 }]\n', 2, "steps[0].seconds must be 0 to 3600 seconds"),
    ("bad option of the second sleep", 'summary = "x"\nsteps = [\n  { step = "sleep", seconds = 1 },\n  "close",\n  { step = "sleep", seconds = nan },\n]\n', 5, "steps[2].seconds must be a finite number"),
    ("a step's missing option", 'summary = "x"\nsteps = [\n  "close",\n  { step = "sleep" },\n]\n', 4, "steps[1].seconds: missing"),
    ("a step's bad choice", 'summary = "x"\nsteps = [\n  "close",\n  { step = "kill-worker", signal = "SIGKIL" },\n]\n', 4, "steps[1].signal: 'SIGKIL' is not allowed here; did you mean 'SIGKILL'?"),
    ("an array of step tables", 'summary = "x"\n[[steps]]\nstep = "close"\n[[steps]]\nstep = "sleep"\nsecond = 1\n', 6, "steps[1].second: unknown key"),
    ("after a multi-line string", 'summary = "x"\ndescription = """\nworkers = 3\n"""\nsteps = []\n[pool]\nworkers = 0\n', 7, "pool.workers must be between 1"),
    ("CRLF line ends", 'summary = "x"\r\nsteps = []\r\n[expect]\r\nhung = true\r\n[[race]]\r\nhung = 1\r\nwhy = "w"\r\n', 5, "race[0]: each [[race]] needs 'why'"),
]  # fmt: skip


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("text", "line", "says"),
    [(t, n, e) for _, t, n, e in LOCATED],
    ids=[label.replace(" ", "-") for label, *_ in LOCATED],
)
def test_the_named_line_is_the_offending_one(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    """The line a message names holds what is wrong, not a same-named key elsewhere."""
    path = tmp_path / "case.toml"
    path.write_bytes(text.encode())
    result = run_cli("run", str(path))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"poolctl: {path}:{line}: {says}"), result.stderr


ONE_LINE = [
    ("a key with a line break", 'summary = "x"\nsteps = []\n"a\\nb" = 1\n', ':3: "a\\nb": unknown key'),
    ("a step name with one", 'summary = "x"\nsteps = ["a\\nb"]\n', ":2: steps[0]: unknown step 'a\\nb'"),
    ("a start method with one", 'summary = "x"\nsteps = []\n[pool]\nstart_method = "x\\ny"\n', ":4: pool.start_method: unknown start method 'x\\ny'"),
]  # fmt: skip


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("text", "says"), [(t, e) for _, t, e in ONE_LINE], ids=[label for label, *_ in ONE_LINE]
)
def test_a_line_break_in_the_file_is_shown_escaped(tmp_path: Path, text: str, says: str) -> None:
    """A key or value holding a line break cannot make the message two lines."""
    path = tmp_path / "case.toml"
    path.write_text(text)
    result = run_cli("run", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"poolctl: {path}{says}"), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize("kind", ["binary", "missing", "directory"])
def test_unreadable_files(cli: Callable[..., CliResult], tmp_path: Path, kind: str) -> None:
    """A binary file, a missing one, a directory: one clear line, exit 2."""
    path = tmp_path / "case.toml"
    if kind == "binary":
        path.write_bytes(b"\x00\x01binary")
    elif kind == "directory":
        path.mkdir()
    result = cli("run", str(path))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    said = {"binary": "not a text file", "missing": "No such file", "directory": "Is a directory"}
    assert said[kind] in result.stderr


def test_every_bundled_file_is_valid() -> None:
    """Each bundled scenario loads, and documents what it guarantees."""
    for name in scenario.bundled_names():
        loaded = scenario.load(name)
        assert loaded.summary and loaded.expect, name


# One test per scenario: two CLI starts each, about a second under load (more on an
# interpreter whose standard library has no .pyc files), would not fit one timeout.
@pytest.mark.parametrize("name", scenario.bundled_names())
def test_show_code_is_a_program_for_every_scenario(name: str) -> None:
    """show --code compiles, for every bundled scenario and with parameters substituted."""
    args = ["--workers", "3", "--tasks", "4", "--duration", "0.1"]
    if KINDS[scenario.load(name).api].starts_processes:
        args += ["--start-method", "spawn"]
    result = run_cli("show", name, "--code", *args)
    needed = scenario.load(name).requires_python
    if needed is not None and sys.version_info < needed:
        # The code is for this interpreter, which has not the pool or call it needs.
        assert result.returncode == 2 and "needs Python" in result.stderr, name
        text = codegen.program(
            scenario.load(name), workers=3, tasks=4, duration=0.1, start_method="spawn"
        )
        compile(text, name, "exec")
    else:
        assert result.returncode == 0, (name, result.stderr)
        compile(result.stdout, name, "exec")
    plain = run_cli("show", name)
    # Wrapped between words to the width: compared word for word.
    summary = " ".join(scenario.load(name).summary.split()[:3])
    assert plain.returncode == 0 and summary in " ".join(plain.stdout.split())


DETERMINISTIC = [
    "close-join",
    "queued-tasks-close-join",
    "with-block-close-join",
    "task-raises",
    "maxtasksperchild",
    "executor-shutdown-wait",
    "threadpool-close-join",
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", DETERMINISTIC)
def test_show_code_prints_what_poolctl_observed(marker: str, tmp_path: Path, name: str) -> None:
    """The plain program prints the same lines; its workers share one pipe, so lines can
    run together ('Task doneTask done'): occurrences are counted in the raw text."""
    import json
    import subprocess

    program = tmp_path / "program.py"
    program.write_text(run_cli("show", name, "--code", "--duration", "0.1").stdout)
    plain = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert plain.returncode == 0, plain.stderr
    doc = json.loads(run_cli("run", name, "--duration", "0.1", "--json").stdout)
    lines = [line["text"] for line in doc["output"] if line["stream"] == "stdout"]
    for text in set(lines):
        assert plain.stdout.count(text) == lines.count(text), text


def test_new_writes_a_file_that_runs(marker: str, tmp_path: Path) -> None:
    """new NAME --dir: the commented starting file loads and matches as it is."""
    result = run_cli("new", "my-case", "--dir", str(tmp_path))
    assert result.returncode == 0
    path = tmp_path / "my-case.toml"
    assert path.read_text().startswith("# A poolctl scenario")
    run = run_cli("run", str(path), "--duration", "0.1", "--json")
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("case", ["exists", "no-directory", "slash"])
def test_new_refuses(tmp_path: Path, case: str) -> None:
    """Never overwrites; a missing directory or a name with a slash is bad input."""
    (tmp_path / "x.toml").write_text("keep me")
    args = {
        "exists": ["x", "--dir", str(tmp_path)],
        "no-directory": ["x", "--dir", str(tmp_path / "nope")],
        "slash": ["a/b", "--dir", str(tmp_path)],
    }[case]
    result = run_cli("new", *args)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert (tmp_path / "x.toml").read_text() == "keep me"
