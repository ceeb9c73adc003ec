"""Generated options and scenario files: every one ends with 0, 1, 2 or 3, in one line when
it is bad input, never with a traceback, and leaves nothing running (the marker fixture)."""

from __future__ import annotations

import json
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


# --- event files: whatever the observed program leaves in the event directory --------------

T0 = 10**12  # the observer's launch stamp in these runs (raw monotonic_ns)


def from_schema(schema: Any) -> st.SearchStrategy[Any]:
    """Values that (mostly) meet ``schema``: the subset of JSON Schema the events use."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    types = schema.get("type", "object")
    if isinstance(types, list):
        return st.one_of(*(from_schema({**schema, "type": one}) for one in types))
    low = schema.get("minimum", 0)
    if types == "integer":
        return st.integers(low, low + 6)
    if types == "number":
        return st.floats(low, low + 5)
    if types == "string":
        return st.text(max_size=12)
    if types == "boolean":
        return st.booleans()
    if types == "null":
        return st.none()
    if types == "array":
        return st.lists(from_schema(schema.get("items", {"type": "integer"})), max_size=3)
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    return st.fixed_dictionaries(
        {name: from_schema(properties[name]) for name in sorted(required)},
        optional={name: from_schema(sub) for name, sub in properties.items()
                  if name not in required and sub is not True},
    )  # fmt: skip


def event_shapes() -> list[dict[str, Any]]:
    """The ``then`` of each link of the published event schema's chain."""
    from schema_validation import schemas

    shapes = []
    link: Any = schemas()["poolctl.run/1"]["$defs"]["event"]
    while link:
        shapes.append(link["then"])
        link = link["else"]
    return shapes


def _raw(event: dict[str, Any], t: int) -> dict[str, Any]:
    """An event as the channel carries it: ``t`` a raw stamp, no observer-made signal."""
    event = {**event, "t": t}
    event.pop("signal", None)
    return event


# Events as the subject writes them, valid by the schema (each kind's own shape)...
valid_events = st.one_of(*(from_schema(shape) for shape in event_shapes())).flatmap(
    lambda e: st.integers(T0, T0 + 2 * 10**9).map(lambda t: _raw(e, t))
)
output_events = st.fixed_dictionaries(
    {"t": st.integers(T0, T0 + 10**9), "pid": st.integers(1, 6), "role": st.just("main"),
     "kind": st.just("output"), "text": st.text(max_size=10),
     "stream": st.sampled_from(["stdout", "stderr", "x"])},
    optional={"eol": st.booleans(), "thread": st.integers(1, 3)},
)  # fmt: skip
# ... and broken: a field dropped, or set to a value of any type.
any_value = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5))


def broken(event: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    name = data.draw(st.sampled_from(sorted(event)))
    event = dict(event)
    if data.draw(st.booleans()):
        del event[name]
    else:
        event[name] = data.draw(any_value)
    return event


event_lines = st.one_of(
    valid_events.map(lambda e: json.dumps(e).encode()),
    output_events.map(lambda e: json.dumps(e).encode()),
    st.tuples(valid_events, st.data()).map(lambda p: json.dumps(broken(*p)).encode()),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
    st.sampled_from([b"NaN", b"[" * 5000, b'{"t": Infinity}', b"{}", b"[]", b"1,2"]),
)
event_files = st.lists(
    st.tuples(st.lists(event_lines, max_size=25), st.binary(max_size=8)), max_size=4
)


@SETTINGS
@example(files=[([b'{"t":1000000000001,"pid":1,"role":"main","kind":"task.started"}'], b"")])
@given(files=event_files)
def test_generated_event_files(
    tmp_path_factory: pytest.TempPathFactory, files: list[tuple[list[bytes], bytes]]
) -> None:
    """Random JSON events and bytes in the event files: never a crash, always a document
    that validates (the conftest hook checks build_trace's), and every view draws it."""
    from poolctl import document, events, interpreter, outcome
    from poolctl.observer.observe import Observation
    from poolctl.observer.workspace import read_events
    from poolctl.render import exports, run_view
    from poolctl.render.console import make_console

    directory = tmp_path_factory.mktemp("events")
    for number, (lines, tail) in enumerate(files):
        (directory / f"events-{number + 1}").write_bytes(b"\n".join(lines) + b"\n" + tail)
    obs = Observation(t0_ns=T0, pid=1, exit_code=0, exit_ns=T0 + 3 * 10**9)
    obs.event_lines = read_events(directory)
    parsed, output = events.parse(obs)
    doc = document.build_trace(
        target={"argv": ["x.py"], "path": "x.py", "module": None, "name": "x.py"},
        timeout=10.0,
        interpreter=interpreter.current(),
        events=parsed,
        output=output,
        outcome=outcome.derive(parsed),
        observation=outcome.observation(parsed),
    )
    console = make_console(no_color=True)
    with console.capture():
        console.print(run_view.render(doc, console))
    for kind in ("trace", "svg", "html"):
        assert exports.content(kind, doc)
