"""``run`` and ``compare`` never give a verdict over what poolctl did not see.

Faults are injected into a copy of the subject (the observer is pointed at it), so that
the production code carries no test hook: a failure of poolctl's own code inside the
subject is an observation failure (exit 3, its message), and a lost event channel makes
the run "not completely observed" (no verdict, exit 3; a row of its own in compare).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from poolctl import api, cli
from poolctl.errors import ObserveError
from poolctl.observer import observe
from poolctl.render.compare_view import render as render_compare
from poolctl.render.console import make_console
from poolctl.render.run_view import render as render_run

# Appended to a module of the copied subject: (module, code).
BROKEN_WATCHER = (
    "watch.py",
    "def _broken(self, handles):\n"
    "    raise RuntimeError('injected fault')\n"
    "WorkerWatch._handles = _broken\n",
)
# The check finds the workers' channel lost (their events still arrive: only the report).
LOST_CHANNEL = (
    "watch.py",
    "def check_channel(channel_dir, **tag):\n"
    "    return not emit('channel.lost', reason='injected', uid=0, **tag)\n",
)


@pytest.fixture
def subject_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marker: str
) -> Callable[[tuple[str, str]], None]:
    """Point the observer at a copy of the subject with ``code`` appended to a module."""

    def inject(fault: tuple[str, str]) -> None:
        root = tmp_path / "subject"
        shutil.copytree(observe.SUBJECT_ROOT, root)
        module = root / "poolctl_subject" / fault[0]
        module.write_text(module.read_text() + "\n" + fault[1])
        monkeypatch.setattr(observe, "SUBJECT_ROOT", root)

    return inject


def _text(renderable: object) -> str:
    console = make_console(no_color=True)
    console.width = 100
    with console.capture() as captured:
        console.print(renderable)
    return " ".join(captured.get().split())


def test_a_failing_watcher_is_an_observation_failure(
    subject_with: Callable[[tuple[str, str]], None], capsys: pytest.CaptureFixture[str]
) -> None:
    """run: exit 3 and poolctl's message, not the watcher's traceback as the program's."""
    subject_with(BROKEN_WATCHER)
    with pytest.raises(ObserveError, match="injected fault"):
        api.run("close-join", tasks=2, duration=0.05)
    status = cli.main(["run", "close-join", "--tasks", "2", "--duration", "0.05"])
    assert status == 3
    assert capsys.readouterr().err.splitlines() == [
        "poolctl: poolctl's observer failed inside the program (watch: the watcher thread):"
        " RuntimeError: injected fault"
    ]


def test_a_lost_channel_gives_no_verdict(
    subject_with: Callable[[tuple[str, str]], None],
) -> None:
    """run: the document says what was not seen, ``matches`` is false, the exit status 3,
    and the view shows no ✓; compare counts the run apart from matches and mismatches."""
    subject_with(LOST_CHANNEL)
    doc = api.run("close-join", tasks=2, duration=0.05)
    assert all(check["ok"] for check in doc["checks"])  # what was seen agrees...
    assert doc["observation"]["complete"] is False  # ...but not everything was seen
    assert [p["kind"] for p in doc["observation"]["problems"]] == ["channel-lost"]
    assert doc["matches"] is False
    assert api.exit_status(doc) == 3
    view = _text(render_run(dict(doc), make_console(no_color=True)))
    assert "Expectation vs reality ? no verdict" in view
    assert "⚠ not completely observed: the workers of pool 1 could not record" in view
    assert "✓" not in view
    svg = api.render_svg(doc)
    assert "close-join — <tspan class='verdict'" in svg
    assert ">no verdict (not completely observed)</tspan>" in svg
    page = api.render_html(doc)
    assert "⚠ not completely observed: the workers of pool 1" in page
    assert "✓" not in page

    compared = api.compare(["close-join"], tasks=2, duration=0.05)
    summary = compared["summary"]
    assert (summary["matched"], summary["mismatched"], summary["incomplete"]) == (0, 0, 1)
    assert summary["rows"][0]["incomplete"] == 1
    assert api.exit_status(compared) == 3
    table = _text(render_compare(dict(compared)))
    assert "1 not completely observed" in table
    assert "? 1/1 not completely observed" in table
    assert "✓" not in table
    assert "? 1/1 not completely observed" in api.render_html(compared)
