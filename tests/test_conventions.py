"""The command line's conventions: -V, -q, --color (NO_COLOR, FORCE_COLOR), list/show
--json, one 'wrote FILE' on stderr, the hints of compare, run and render; in process
(CliRunner) and through the real entry point."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import run_cli, run_pipeline
from poolctl import __version__
from poolctl import cli as poolctl_cli
from poolctl.catalogue import bundled_names

runner = CliRunner()
ESCAPE = "\x1b["


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved run document (one real run) to render."""
    path = tmp_path_factory.mktemp("saved") / "run.json"
    path.write_text(json.dumps(run_pipeline("close-join", tasks=1, duration=0.05)))
    return path


def test_short_version_flag_in_process_and_for_real() -> None:
    """-V is --version, as most tools have it."""
    assert runner.invoke(poolctl_cli.app, ["-V"]).stdout == f"poolctl {__version__}\n"
    done = run_cli("-V", script=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"poolctl {__version__}\n", "")


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        (["--color=always"], {}, True),
        (["--color", "never"], {"FORCE_COLOR": "1"}, False),
        (["--no-color"], {"FORCE_COLOR": "1"}, False),
        ([], {"FORCE_COLOR": "1"}, True),
        ([], {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
        (["--color=always"], {"NO_COLOR": "1"}, True),
        ([], {}, False),  # a pipe, auto: plain
    ],
    ids=[
        "always",
        "never-beats-force",
        "no-color-alias",
        "force",
        "no-color-env",
        "flag-wins",
        "auto-piped",
    ],
)
def test_color_modes_and_the_environment(
    args: list[str], env: dict[str, str], coloured: bool
) -> None:
    """--color=auto|always|never; NO_COLOR and FORCE_COLOR under auto; the flag wins."""
    clean = {"NO_COLOR": "", "FORCE_COLOR": "", **env}
    done = run_cli("show", "close-join", *args, env=clean)
    assert done.returncode == 0, done.stderr
    assert (ESCAPE in done.stdout) is coloured


def test_an_unknown_color_mode_is_a_usage_error() -> None:
    done = run_cli("show", "close-join", "--color=sometimes")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "'auto', 'always', 'never'" in done.stderr


def test_wrote_lines_are_one_wording_on_stderr(tmp_path: Path, saved: Path) -> None:
    """render and new announce each file on stderr as 'wrote FILE'; -q silences them."""
    svg, page = tmp_path / "out.svg", tmp_path / "out.html"
    done = run_cli("render", str(saved), "--svg", str(svg), "--html", str(page))
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == f"wrote {svg}\nwrote {page}\n"
    quiet = run_cli("render", str(saved), "--svg", str(svg), "-q")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    new = run_cli("new", "case", "--dir", str(tmp_path))
    assert (new.returncode, new.stdout, new.stderr) == (0, "", f"wrote {tmp_path / 'case.toml'}\n")
    again = run_cli("new", "other", "--dir", str(tmp_path), "--quiet")
    assert (again.stdout, again.stderr) == ("", "")
    assert (tmp_path / "other.toml").is_file()


def test_run_says_what_it_wrote(marker: str, tmp_path: Path) -> None:
    """run --svg/--trace say so as render does (they were silent); the view stays on stdout."""
    svg, trace = tmp_path / "t.svg", tmp_path / "t.json"
    done = run_cli(
        "run", "close-join", "--duration", "0.05", "--json", "--svg", str(svg),
        "--trace", str(trace),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"wrote {trace}\nwrote {svg}\n"
    assert json.loads(done.stdout)["schema"] == "poolctl.run/1"


def test_list_json() -> None:
    """list --json: each bundled scenario's name, summary and file."""
    result = runner.invoke(poolctl_cli.app, ["list", "--json"])
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert [entry["name"] for entry in listed] == bundled_names()
    for entry in listed:
        assert entry["summary"] and Path(entry["source"]).is_file()
    assert json.loads(run_cli("list", "--json", script=True).stdout) == listed


def test_show_json() -> None:
    """show --json: the scenario with its defaults; --json with --code is refused."""
    done = run_cli("show", "terminate-join", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["name"] == "terminate-join"
    assert [step["step"] for step in shown["steps"]] == ["terminate", "join"]
    assert shown["expected"] and shown["races"] and shown["tasks"] >= 1
    assert Path(shown["source"]).is_file()
    both = run_cli("show", "close-join", "--json", "--code")
    assert both.returncode == 2
    assert both.stderr == "poolctl: --json and --code cannot be used together\n"


def test_new_help_shows_one_default() -> None:
    done = run_cli("new", "--help", env={"COLUMNS": "120"})
    assert done.stdout.count("[default:") == 1 and "[default: here]" in done.stdout


def test_compare_without_scenarios_hints_at_all() -> None:
    done = run_cli("compare")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "poolctl compare all" in done.stderr


def test_run_with_every_start_method_suggests_compare() -> None:
    done = run_cli("run", "close-join", "--start-method", "all")
    assert done.returncode == 2
    assert done.stderr == (
        "poolctl: --start-method all: 'run' runs one start method; to see every one side by"
        " side: poolctl compare close-join --start-method all\n"
    )


def test_render_of_a_perfetto_trace_says_what_it_is(tmp_path: Path, saved: Path) -> None:
    trace = tmp_path / "trace.json"
    assert run_cli("render", str(saved), "--trace", str(trace), "-q").returncode == 0
    done = run_cli("render", str(trace))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "a Chrome/Perfetto trace" in done.stderr and "None" not in done.stderr


def test_every_run_document_records_its_platform(saved: Path) -> None:
    """The machine: OS, kernel release, architecture, CPUs."""
    doc: dict[str, Any] = json.loads(saved.read_text())
    assert doc["platform"] == {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def test_trace_leaves_quiet_to_the_program(marker: str, tmp_path: Path) -> None:
    """-q is the traced program's (``poolctl trace -m pytest -q``), not poolctl's."""
    program = tmp_path / "argv.py"
    program.write_text("import sys\nprint('args', sys.argv[1:])\n")
    done = run_cli("trace", "--json", str(program), "-q", "--quiet")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["program"]["argv"] == [str(program), "-q", "--quiet"]
    assert "args ['-q', '--quiet']" in done.stderr  # its stdout, on stderr under --json
