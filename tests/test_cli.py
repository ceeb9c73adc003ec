"""The command line: version, list, help, bad input (exit 2, one line) and exit statuses."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SEED_SCENARIOS, CliResult, pyenv_python, write_scenario
from poolctl import __version__, scenario
from poolctl import cli as poolctl_cli

runner = CliRunner()


@pytest.fixture
def in_process() -> Iterator[Callable[..., int]]:
    """``poolctl.cli.main`` in this process; the signal handlers (and the unraisable
    hook) it installs are undone."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    hook = sys.unraisablehook
    yield poolctl_cli.main
    for signum, handler in saved.items():
        signal.signal(signum, handler)
    sys.unraisablehook = hook


# --- version, list, help -----------------------------------------------------------------------


def test_version_with_cli_runner() -> None:
    """``--version`` prints ``poolctl <version>`` and exits 0."""
    result = runner.invoke(poolctl_cli.app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"poolctl {__version__}\n"


@pytest.mark.parametrize("script", [False, True], ids=["python-m", "console-script"])
def test_version_through_the_entry_point(cli: Callable[..., CliResult], script: bool) -> None:
    """The real ``python -m poolctl`` and the ``poolctl`` script agree on the version."""
    result = cli("--version", script=script)
    assert result == CliResult(0, f"poolctl {__version__}\n", "")


def test_list_prints_every_bundled_scenario() -> None:
    """One scenario a line, every bundled file (the four seeds among them), sorted."""
    result = runner.invoke(poolctl_cli.app, ["list"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    names = [line.split()[0] for line in lines]
    bundled = sorted(p.stem for p in scenario.scenario_dir().glob("*.toml"))
    assert names == bundled
    assert set(SEED_SCENARIOS) <= set(names)
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)


def test_run_help_shows_examples() -> None:
    """``run --help`` has an Examples section with real commands."""
    result = runner.invoke(poolctl_cli.app, ["run", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "Examples" in result.stdout
    assert "poolctl run close-join" in result.stdout
    assert "Exit status" in result.stdout


def test_no_arguments_shows_help(cli: Callable[..., CliResult]) -> None:
    """``poolctl`` alone prints its help on stdout and exits 0, with nothing on stderr."""
    result = cli()
    assert "Usage" in result.stdout
    assert "Examples" in result.stdout
    assert (result.returncode, result.stderr) == (0, "")


def test_version_in_process(
    in_process: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    """``main(['--version'])`` returns 0."""
    assert in_process(["--version"]) == 0
    assert capsys.readouterr().out == f"poolctl {__version__}\n"


# --- bad input ----------------------------------------------------------------------------------


BAD_INPUT = [
    pytest.param(["close-jion"], "did you mean 'close-join'", id="unknown-scenario"),
    pytest.param(["close-join", "--workers", "0"], "--workers must be between 1", id="workers-0"),
    pytest.param(
        ["close-join", "--workers", "100000"], "--workers must be between 1", id="workers-huge"
    ),
    pytest.param(["close-join", "--workers", "abc"], "--workers", id="workers-abc"),
    pytest.param(["close-join", "--duration", "-1"], "--duration must be 0", id="duration-neg"),
    pytest.param(["close-join", "--duration", "nan"], "finite", id="duration-nan"),
    pytest.param(["close-join", "--duration", "inf"], "finite", id="duration-inf"),
    pytest.param(["close-join", "--tasks", "-1"], "--tasks must be between 0", id="tasks-neg"),
    pytest.param(["close-join", "--timeout", "0"], "--timeout must be more than 0", id="timeout-0"),
    pytest.param(
        ["close-join", "--start-method", "forx"], "did you mean 'fork'", id="start-method"
    ),
    pytest.param(
        ["close-join", "--start-method", "a\nb"], "method 'a\\nb'", id="start-method-newline"
    ),
    pytest.param(["close-join", "--workers", "1\n2"], "--workers", id="workers-newline"),
    pytest.param(
        ["close-join", "--python", "/nonexistent/python"], "no such file", id="python-missing"
    ),
    pytest.param(
        ["close-join", "--python", "/etc/passwd"], "not an executable file", id="python-not-exec"
    ),
    pytest.param(["close-join", "--python", "python3.99"], "no such command", id="python-3.99"),
    pytest.param(["close-join", "--python", ""], "empty interpreter name", id="python-empty"),
    pytest.param(["close-join", "--bogus"], "No such option", id="unknown-option"),
    pytest.param([], "Missing argument", id="missing-scenario"),
    pytest.param(["no/such/file.toml"], "cannot read the scenario file", id="missing-file"),
]


def assert_one_line_usage_error(result: CliResult, expected: str) -> None:
    """Exit 2, nothing on stdout, exactly one ``poolctl:`` line on stderr."""
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("poolctl: "), lines
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "expected"), BAD_INPUT)
def test_bad_input_through_the_entry_point(
    cli: Callable[..., CliResult], args: list[str], expected: str
) -> None:
    """``python -m poolctl run ...`` with bad input: exit 2 and one line on stderr."""
    assert_one_line_usage_error(cli("run", *args), expected)


@pytest.mark.parametrize(("args", "expected"), BAD_INPUT)
def test_bad_input_in_process(
    in_process: Callable[..., int],
    capsys: pytest.CaptureFixture[str],
    marker: str,
    args: list[str],
    expected: str,
) -> None:
    """``poolctl.cli.main`` returns 2 for the same bad input, with the same one line."""
    status = in_process(["run", *args])
    out = capsys.readouterr()
    assert_one_line_usage_error(CliResult(status, out.out, out.err), expected)
    # Nothing is imported in the background before the input is checked: a daemon thread
    # still importing (rich) while the interpreter exits after the error line crashed it
    # (SIGSEGV, seen in CI).
    assert "poolctl-warm-up" not in [thread.name for thread in threading.enumerate()]


OLD_PYTHONS = ("3.7", "3.6", "2.7")


@pytest.mark.parametrize(
    "version",
    OLD_PYTHONS,
)
def test_too_old_interpreter(cli: Callable[..., CliResult], version: str) -> None:
    """An interpreter older than 3.8 is refused as too old, before anything runs."""
    found = pyenv_python(version)
    if found is None:
        pytest.skip(f"no Python {version} under ~/.pyenv/versions")
    result = cli("run", "close-join", "--python", str(found))
    assert_one_line_usage_error(result, "too old")
    assert f"Python {version}." in result.stderr
    assert "needs 3.8 or newer" in result.stderr


def test_bad_scenario_file_is_bad_input(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    """A scenario file with an unknown step names the file and line; exit 2."""
    path = tmp_path / "broken.toml"
    path.write_text('summary = "x"\nsteps = ["close", "jion"]\n')
    result = cli("run", str(path))
    assert_one_line_usage_error(result, f"{path}:2: steps[1]: unknown step 'jion'")
    assert "did you mean 'join'" in result.stderr


# --- exit statuses of real runs ------------------------------------------------------------------


def test_exit_1_when_reality_differs(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    """close + join with a wrong expectation (no task completes): observed, but differs."""
    path = write_scenario(
        tmp_path, "wrong-expectation", steps=["close", "join"], expect="completed = 0"
    )
    result = cli("run", str(path), "--duration", "0.1", "--json")
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    doc = json.loads(result.stdout)
    assert doc["matches"] is False
    assert doc["outcome"]["tasks"]["completed"] == 1
    assert doc["checks"] == [
        {"claim": "no task completes", "expected": 0, "observed": 1, "ok": False}
    ]


def test_exit_1_in_process(
    in_process: Callable[..., int], capsys: pytest.CaptureFixture[str], marker: str, tmp_path: Path
) -> None:
    """``main`` returns 1 for the same mismatch, and shows the run as text."""
    path = write_scenario(
        tmp_path, "wrong-expectation", steps=["close", "join"], expect="completed = 0"
    )
    assert in_process(["run", str(path), "--duration", "0.1", "--no-color"]) == 1
    out = capsys.readouterr()
    assert out.err == ""
    assert "wrong-expectation" in out.out
    assert "\x1b" not in out.out


@pytest.mark.parametrize("script", [False, True], ids=["python-m", "console-script"])
def test_exit_0_for_a_matching_run(cli: Callable[..., CliResult], script: bool) -> None:
    """terminate-join as documented: exit 0, the human view on stdout, nothing on stderr."""
    result = cli("run", "terminate-join", "--duration", "0.2", "--no-color", script=script)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "terminate-join" in result.stdout
    assert "Main done" in result.stdout
    assert "\x1b" not in result.stdout
