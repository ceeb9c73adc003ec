"""Generated options and scenario files: every one ends with 0, 1, 2 or 3, in one line when
it is bad input, never with a traceback, and leaves nothing running (the marker fixture)."""

from __future__ import annotations

import math
import signal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from poolctl import cli

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

counts = st.one_of(
    st.integers(-2, 4).map(str),
    st.sampled_from(["0", "-0", "1e9", "nan", "inf", "abc", "", "2.5", "  3", "100000000"]),
)
# Durations are either short enough to run quickly or not valid at all.
durations = st.sampled_from(
    ["0", "0.01", "0.05", "-1", "-0", "nan", "inf", "-inf", "abc", "", "1e9", "3601"]
)
methods = st.sampled_from(["fork", "spawn", "forkserver", "forx", "", "all"])


def main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """cli.main in-process, its signal handlers put back afterwards."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        status = cli.main(argv)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    out = capsys.readouterr()
    return status, out.out, out.err


def check(status: int, out: str, err: str) -> None:
    """The contract of every ending."""
    assert status in (0, 1, 2, 3), (status, err)
    assert "Traceback" not in err
    if status in (2, 3):
        assert len(err.splitlines()) == 1, err
    if status in (0, 1):
        assert out.startswith('{"schema":"poolctl.run/1"')


@SETTINGS
@example(workers="2", tasks="2", duration="0.01", method="fork")
@example(workers="1", tasks="0", duration="0", method="spawn")
@given(workers=counts, tasks=counts, duration=durations, method=methods)
def test_generated_options(
    marker: str,
    capsys: pytest.CaptureFixture[str],
    workers: str,
    tasks: str,
    duration: str,
    method: str,
) -> None:
    """Whatever the values, a clean ending; valid ones really run (kept small)."""
    argv = ["run", "close-join", "--workers", workers, "--tasks", tasks, "--duration", duration,
            "--start-method", method, "--timeout", "10", "--json"]  # fmt: skip
    check(*main(argv, capsys))


scalars = st.one_of(
    st.integers(-3, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["pool", "executor", "threadpool", "close", "join", "all", "none", "x"]),
)
steps = st.lists(
    st.one_of(
        st.sampled_from(["close", "join", "terminate", "shutdown", "del", "sleep", "clsoe"]),
        st.fixed_dictionaries(
            {"step": st.sampled_from(["sleep", "shutdown", "kill-worker"])},
            optional={
                "seconds": st.sampled_from([0.0, 0.01, -1]),
                "wait": st.booleans(),
                "which": st.sampled_from(["idle", "x"]),
            },
        ),
    ),
    max_size=3,
)
pool_keys = ["api", "workers", "start_method", "maxtasksperchild", "context_manager", "colour"]


def toml_value(value: Any) -> str:
    """A TOML literal for what the strategies make."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


@SETTINGS
@example(steps=["close", "join"], pool={"workers": 2}, tasks={"count": 1}, expect={})
@example(
    steps=[{"step": "shutdown", "wait": True}],
    pool={"api": "executor"},
    tasks={},
    expect={"completed": "all"},
)
@given(
    steps=steps,
    pool=st.dictionaries(st.sampled_from(pool_keys), scalars, max_size=3),
    tasks=st.dictionaries(
        st.sampled_from(["count", "duration", "submit", "raises"]), scalars, max_size=3
    ),
    expect=st.dictionaries(
        st.sampled_from(["completed", "hung", "error", "failed", "nope"]), scalars, max_size=2
    ),
)
def test_generated_scenario_files(
    marker: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    steps: list[Any],
    pool: dict[str, Any],
    tasks: dict[str, Any],
    expect: dict[str, Any],
) -> None:
    """Valid and invalid files alike end cleanly; valid ones run on a real pool."""
    lines = ['summary = "generated"', f"steps = {toml_value(steps)}"]
    for name, table in (("pool", pool), ("tasks", tasks), ("expect", expect)):
        lines.append(f"[{name}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    path = tmp_path / "generated.toml"
    path.write_text("\n".join(lines) + "\n")
    argv = ["run", str(path), "--duration", "0.02", "--tasks", "2", "--timeout", "10", "--json"]
    check(*main(argv, capsys))
