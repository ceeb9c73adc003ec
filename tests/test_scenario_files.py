"""A user's own scenario files: they run, bad ones are refused with file and line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CliResult, run_cli
from poolctl import scenario

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
    ("race without why", 'summary = "x"\nsteps = []\n[[race]]\noutput = "x"\n', "race: each [[race]] needs 'why'"),
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


def test_show_code_is_a_program_for_every_scenario(tmp_path: Path) -> None:
    """show --code compiles, for every bundled scenario and with parameters substituted."""
    for name in scenario.bundled_names():
        args = ["--workers", "3", "--tasks", "4", "--duration", "0.1"]
        if scenario.load(name).api != "threadpool":
            args += ["--start-method", "spawn"]
        result = run_cli("show", name, "--code", *args)
        assert result.returncode == 0, (name, result.stderr)
        compile(result.stdout, name, "exec")
        plain = run_cli("show", name)
        assert plain.returncode == 0 and scenario.load(name).summary[:20] in plain.stdout


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
