"""poolctl compare: the table, the axes, JSON and JSON Lines, exit codes, clean-up."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import ESC, SEED_SCENARIOS, CliResult, run_cli, write_scenario
from poolctl import compare, summary

GUARANTEED = ("completed", "failed")


def compare_json(*args: str) -> tuple[int, dict[str, Any]]:
    """``poolctl compare ... --json``: status and document."""
    result = run_cli("compare", *args, "--json")
    assert result.stderr == "", result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("plain", [{}, {"NO_COLOR": "1"}, {"FORCE_COLOR": "1", "NO_COLOR": "1"}])
def test_table_of_the_seed_scenarios(marker: str, plain: dict[str, str]) -> None:
    """Every seed scenario has a row; four runs match; no escape codes when told."""
    result = run_cli("compare", *SEED_SCENARIOS, "--duration", "0.2", "--no-color", env=plain)
    assert result.returncode == 0, result.stderr
    assert ESC not in result.stdout
    assert "4 runs · 4 match · 0 differ" in result.stdout
    for name in SEED_SCENARIOS:
        assert name in result.stdout


@pytest.mark.timeout(60)
def test_start_method_axis(marker: str) -> None:
    """--start-method all: one row per (scenario, start method), every run matching."""
    status, doc = compare_json(
        "close-join", "terminate-join", "--start-method", "all", "--duration", "0.2"
    )
    methods = multiprocessing.get_all_start_methods()
    rows = {(r["scenario"], r["start_method"]) for r in doc["summary"]["rows"]}
    assert rows == {(s, m) for s in ("close-join", "terminate-join") for m in methods}
    assert len(doc["runs"]) == 2 * len(methods)
    assert status == 0
    assert all(run["matches"] for run in doc["runs"])


@pytest.mark.timeout(60)
def test_repeat_axis_counts_every_run(marker: str) -> None:
    """--repeat 4: four run documents, and every distribution in the row sums to 4."""
    status, doc = compare_json("terminate-join", "--repeat", "4", "--duration", "0.2")
    assert status == 0
    assert len(doc["runs"]) == 4
    (row,) = doc["summary"]["rows"]
    assert row["runs"] == row["observed_runs"] == row["matched"] == 4
    for values in row["observed"].values():
        assert sum(values.values()) == 4
    assert row["races"]["Task executing"]["runs"] == 4


@pytest.mark.timeout(60)
def test_json_and_jsonl_carry_what_run_json_gives(marker: str) -> None:
    """The same run documents, from the same code path, in both formats."""
    names = ("close-join", "join-without-close")
    alone = {}
    for name in names:
        result = run_cli("run", name, "--duration", "0.2", "--json")
        alone[name] = json.loads(result.stdout)
    _, doc = compare_json(*names, "--duration", "0.2")
    lines = run_cli("compare", *names, "--duration", "0.2", "--jsonl").stdout.splitlines()
    streamed = [json.loads(line) for line in lines]
    assert doc["schema"] == "poolctl.compare/1"
    assert set(doc) >= {"params", "runs", "errors", "summary"}
    totals = doc["summary"]
    assert totals["matched"] + totals["mismatched"] + totals["unobserved"] == totals["runs"]
    assert len(streamed) == len(doc["runs"]) == len(names)
    for runs in (doc["runs"], sorted(streamed, key=lambda d: names.index(d["scenario"]["name"]))):
        for run, name in zip(runs, names, strict=True):
            one = alone[name]
            assert run.keys() == one.keys()
            assert run["schema"] == "poolctl.run/1"
            for key in ("scenario", "params", "expected", "matches"):
                assert run[key] == one[key], key
            for key in GUARANTEED:
                assert run["outcome"]["tasks"][key] == one["outcome"]["tasks"][key]
            assert run["outcome"]["error"] == one["outcome"]["error"]
            assert run["outcome"]["main"]["exit_code"] == one["outcome"]["main"]["exit_code"]


@pytest.mark.timeout(60)
def test_a_wrong_expectation_exits_1(marker: str, tmp_path: Path) -> None:
    """A scenario whose documented expectation is wrong: exit 1, and the table says which."""
    wrong = write_scenario(tmp_path, "wrong", steps=["close", "join"], expect="completed = 0")
    status, doc = compare_json(str(wrong), "close-join", "--duration", "0.1")
    assert status == 1
    verdicts = {run["scenario"]["name"]: run["matches"] for run in doc["runs"]}
    assert verdicts == {"wrong": False, "close-join": True}
    table = run_cli("compare", str(wrong), "--duration", "0.1", "--no-color")
    assert table.returncode == 1
    assert "✗ no task completes" in table.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nothing-like-this"], "unknown scenario 'nothing-like-this'"),
        (["all", "--repeat", "0"], "--repeat must be between 1 and"),
        (["all", "--jobs", "0"], "--jobs must be between 1 and"),
        (["all", "--json", "--jsonl"], "--json and --jsonl cannot be used together"),
        (["all", "--start-method", "fork,bogus"], "unknown start method 'bogus'"),
        (["all", "--python", "/nonexistent/python"], "--python /nonexistent/python: no such file"),
        ([], "Missing argument"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    cli: Callable[..., CliResult], args: list[str], expected: str
) -> None:
    """Exit 2, one line on stderr, nothing on stdout, nothing started."""
    result = cli("compare", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("poolctl: ")
    assert expected in result.stderr


@pytest.mark.timeout(30)
def test_a_hung_run_is_observed_and_cleaned_up(marker: str, tmp_path: Path) -> None:
    """A hung run counts as observed (reported hung); nothing of it is left running."""
    hung = write_scenario(
        tmp_path, "hangs", steps=["close", "join"], duration=30, expect="hung = true"
    )
    quick = write_scenario(
        tmp_path,
        "quick",
        steps=["close", "join"],
        duration=0.1,
        expect='completed = "all"\nhung = false',
    )
    begun = time.monotonic()
    status, doc = compare_json(str(hung), str(quick), "--timeout", "2")
    assert time.monotonic() - begun < 8
    runs = {run["scenario"]["name"]: run for run in doc["runs"]}
    assert runs["hangs"]["outcome"]["hung"] is True
    assert runs["quick"]["outcome"]["hung"] is False
    assert doc["summary"]["hung"] == 1
    assert doc["summary"]["unobserved"] == 0
    assert status == 0  # both as documented: the hang was expected


def test_concurrency_does_not_change_outcomes(marker: str) -> None:
    """One job at a time or four at once: the guaranteed values are the same."""
    by_jobs = {}
    for jobs in ("1", "4"):
        _, doc = compare_json(*SEED_SCENARIOS, "--duration", "0.2", "--jobs", jobs)
        by_jobs[jobs] = {
            run["scenario"]["name"]: (
                run["outcome"]["tasks"]["completed"],
                run["outcome"]["error"],
                run["outcome"]["main"]["exit_code"],
                run["matches"],
            )
            for run in doc["runs"]
        }
    assert by_jobs["1"] == by_jobs["4"]


def test_start_method_spec_parsing() -> None:
    """'all', lists, duplicates; unknown names are refused."""
    from poolctl import interpreter
    from poolctl.errors import UsageError

    here = interpreter.current()
    assert compare.start_methods(None, here) == [None]
    assert compare.start_methods("all", here) == list(here.start_methods)
    assert compare.start_methods("spawn,fork,spawn", here) == ["spawn", "fork"]
    with pytest.raises(UsageError):
        compare.start_methods("fork,bogus", here)


def test_worker_endings_and_task_counts() -> None:
    """The strings a row's distributions are made of."""
    outcome = {
        "workers": [
            {"killed_by_poolctl": False, "signal": "SIGTERM", "exit_code": -15},
            {"killed_by_poolctl": False, "signal": None, "exit_code": 0},
            {"killed_by_poolctl": False, "signal": "SIGTERM", "exit_code": -15},
        ],
        "tasks": {"completed": 1, "interrupted": 2, "never_started": 3, "failed": 0},
    }
    assert summary.worker_endings(outcome) == "2× SIGTERM + 1× exit 0"
    assert summary.task_counts(outcome) == "1/2/3"
