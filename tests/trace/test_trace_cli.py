"""``poolctl trace`` as a command: programs that cannot run and bad options (one line and a
status), the exports it writes, and the command in process through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ESC
from poolctl.cli import app
from poolctl.errors import PoolctlError
from submission_matrix import submission_program
from tracing import assert_each_item_a_task, trace, write

# --- programs that cannot run, bad options ----------------------------------------------


def cannot_run_cases(directory: Path) -> list[tuple[list[str], int, str]]:
    """(arguments, status, what the one line says) for programs that never run."""
    write(directory, "bad.py", "x = 1\nif x\n    pass\n")
    write(directory, "badpkg/__init__.py", "")
    write(directory, "badpkg/mod.py", "y = (\n")
    ran = directory / "ran"
    write(directory, "fine.py", f"open({str(ran)!r}, 'w').close()\n")
    fine = str(directory / "fine.py")
    return [
        ([str(directory / "missing.py")], 127, "missing.py: no such file"),
        (["-m", "no_such_module_here"], 127, "No module named no_such_module_here"),
        (["-m", "badpkg.nothing"], 127, "No module named badpkg.nothing"),
        ([str(directory / "bad.py")], 126, "line 2"),
        (["-m", "badpkg.mod"], 126, "line 1"),
        ([str(directory / "badpkg")], 126, "is a directory"),
        (["--timeout", "soon", fine], 2, "--timeout"),
        (["--timeout", "0", fine], 2, "--timeout"),
        (["--python", str(directory / "nopython"), fine], 2, "no such file"),
        (["--svg", str(directory / "nodir" / "x.svg"), fine], 2, "no such directory"),
        ([], 2, "name a program"),
    ]


def test_programs_that_cannot_run_get_one_line_and_a_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not found 127, cannot run 126 (the syntax error's line named), bad option 2: one
    'poolctl:' line on stderr (ended by its newline), nothing on stdout, no traceback,
    the program never run."""
    monkeypatch.chdir(tmp_path)  # -m looks here
    for args, status, says in cannot_run_cases(tmp_path):
        run = trace(*args, json_doc=False)
        assert run.status == status, (args, run.stderr)
        assert run.stdout == "", args
        lines = run.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("poolctl: "), (args, run.stderr)
        assert run.stderr == lines[0] + "\n", (args, run.stderr)
        assert says in lines[0], (args, lines)
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "ran").exists()


# --- exports ---------------------------------------------------------------------------


def test_exports_are_written_and_valid(tmp_path: Path) -> None:
    """--trace, --svg and --html with --json: each file written and well formed; the SVG
    is the one 'poolctl render' draws from the same document."""
    source, _, _ = submission_program("pool", "fork", "context")
    program = write(tmp_path, "calls.py", source)
    out = {"trace": tmp_path / "out.json", "svg": tmp_path / "out.svg"}
    out["html"] = tmp_path / "out.html"
    run = trace(*(w for kind, path in out.items() for w in (f"--{kind}", str(path))), str(program))
    assert run.status == 0, run.stderr
    perfetto = json.loads(out["trace"].read_text())
    assert isinstance(perfetto["traceEvents"], list) and perfetto["traceEvents"]
    main_pid = run.doc["outcome"]["main"]["pid"]  # type: ignore[index]
    assert main_pid in {e.get("pid") for e in perfetto["traceEvents"]}
    svg = out["svg"].read_text()
    assert svg.lstrip().startswith(("<svg", "<?xml")) and svg.rstrip().endswith("</svg>")
    html = out["html"].read_text()
    assert html.lower().startswith("<!doctype html") and "poolctl trace" in html
    saved = tmp_path / "doc.json"
    saved.write_text(run.stdout)
    again = tmp_path / "again.svg"
    result = CliRunner().invoke(app, ["render", str(saved), "--svg", str(again)])
    assert result.exit_code == 0, result.output
    assert again.read_text() == svg


# --- through Typer's CliRunner ----------------------------------------------------------


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_cli_runner_json_and_the_programs_output(
    runner: CliRunner, marker: str, tmp_path: Path
) -> None:
    """In process, through CliRunner: --json on the captured stdout, the program's own
    stdout on the captured stderr, the program's status as the exit code."""
    source, phases, expected = submission_program("threadpool", "fork", "set")
    program = write(tmp_path, "calls.py", source + "    raise SystemExit(5)\n")
    result = runner.invoke(app, ["trace", "--json", str(program)])
    assert result.exit_code == 5, result.output
    doc = json.loads(result.stdout)
    assert json.loads(result.stderr.splitlines()[-1]) == expected
    assert doc["outcome"]["tasks"]["completed"] == sum(phases)
    assert doc["outcome"]["main"]["exit_code"] == 5
    assert_each_item_a_task(doc, phases)


def test_cli_runner_timeline_report(runner: CliRunner, marker: str, tmp_path: Path) -> None:
    """The terminal report, plain: the program's output first, its pools, its calls, how
    it ended; no colour codes under --no-color; the program's status as the exit code."""
    program = write(
        tmp_path,
        "report.py",
        """
        import time
        from multiprocessing import get_context


        def work(x):
            time.sleep(0.05)
            return x


        if __name__ == '__main__':
            pool = get_context('spawn').Pool(2)
            print(pool.map(work, range(3)))
            pool.terminate()
            pool.join()
            raise SystemExit(4)
        """,
    )
    # --events: the whole report, the events list included.
    result = runner.invoke(
        app, ["trace", "--no-color", "--events", str(program)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 4, result.output
    out = result.stdout
    assert out.startswith("[0, 1, 2]\n\n")
    assert f"poolctl trace {program}" in out
    assert "Pool 1 (spawn, 2 workers)" in out
    for kind in ("pool.created", "terminate.called", "join.returned", "main.exited"):
        assert kind in out
    assert "3 submitted: 3 completed" in out
    assert "The program  exited with status 4" in out
    assert ESC not in out


def test_cli_runner_errors(runner: CliRunner, tmp_path: Path) -> None:
    """In process the error is raised for main() to print (with its exit status); a bad
    option is Click's usage error, status 2."""
    result = runner.invoke(app, ["trace", str(tmp_path / "missing.py")])
    assert isinstance(result.exception, PoolctlError)
    assert result.exception.exit_code == 127
    assert "no such file" in str(result.exception)
    program = write(tmp_path, "p.py", "pass\n")
    result = runner.invoke(app, ["trace", "--timeout", "soon", str(program)])
    assert result.exit_code == 2
    assert "--timeout" in result.output


def test_cli_runner_every_word_after_the_program_is_the_programs(
    runner: CliRunner, marker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process: poolctl's options before the program; -h, --json, --timeout and -m
    after the program's path, or after -m MODULE, are the program's argv, as python's."""
    source = "import sys\nprint(sys.argv[1:])\n"
    program = write(tmp_path, "args.py", source)
    write(tmp_path, "args_module.py", source)
    monkeypatch.chdir(tmp_path)
    words = ["-h", "--json", "--timeout", "3", "-m", "x"]
    for target in ([str(program)], ["-m", "args_module"]):
        result = runner.invoke(app, ["trace", "--json", "--timeout", "30", *target, *words])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        argv = [str(program)] if target[0] != "-m" else ["-m"]
        assert doc["program"]["argv"] == [*argv, *words]
        assert result.stderr == f"{words}\n"  # the program's stdout, under --json
    result = runner.invoke(app, ["trace", "--bogus", str(program)])
    assert result.exit_code == 2
    assert "--bogus" in result.output
