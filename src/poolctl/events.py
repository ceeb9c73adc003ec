"""Turn a raw observation into the run's events and output lines.

Subject events arrive as JSON lines with raw ``monotonic_ns`` stamps; here they get ``t``,
seconds since the observer launched the subject (the same clock for every process). The
observer's own facts (the main process's exit, the timeout, processes killed at clean-up)
become events too, so that the outcome is derived from events alone.
"""

from __future__ import annotations

import json
import signal
from typing import Any

from .errors import ObserveError
from .observer.observe import Observation
from .observer.output import LINE_BYTES, OUTPUT_BYTES, OUTPUT_LINES

ROLES = {"main", "worker"}


def signal_name(exit_code: int | None) -> str | None:
    """``SIGTERM`` for exit code -15; None for a normal exit or an unknown code."""
    if exit_code is None or exit_code >= 0:
        return None
    try:
        return signal.Signals(-exit_code).name
    except ValueError:
        return f"signal {-exit_code}"


def _seconds(ns: int, t0: int) -> float:
    return round((ns - t0) / 1e9, 6)


def parse(obs: Observation) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return ``(events, output)`` for ``obs``, both in time order.

    Raises ``ObserveError`` if the channel carried something that is not an event.
    """
    events: list[dict[str, Any]] = []
    output: list[dict[str, Any]] = []
    pending: dict[tuple[int, str], _Pieces] = {}
    t0 = obs.t0_ns
    for raw in _decode_all(obs.event_lines):
        # In place: t arrives first, as a raw monotonic_ns stamp (50,000 events at 10,000
        # tasks: rebuilding each dict cost a third of a second).
        t = raw["t"] = round((raw["t"] - t0) / 1e9, 6)
        kind = raw["kind"]
        if kind == "output":
            _add_output(raw, t, output, pending)
            continue
        if kind == "worker.exited" or kind == "worker.reaped":
            raw["signal"] = signal_name(raw.get("exit_code"))
        events.append(raw)
    output.extend(piece.line() for piece in pending.values())
    output.extend(_raw_lines(obs))
    events.extend(_observer_events(obs))
    events.sort(key=lambda e: e["t"])
    output.sort(key=lambda o: o["t"])
    return events, _bounded(output, obs)


def _decode_all(lines: list[bytes]) -> list[dict[str, Any]]:
    """Decode every line at once (one C-level parse: 10,000 tasks make 50,000 events);
    line by line only to point at the culprit when something is not an event."""
    try:
        raws = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        raws = None
    if raws is not None and len(raws) == len(lines) and all(map(_is_event, raws)):
        return raws
    for line in lines:
        try:
            raw = json.loads(line)
        except ValueError:
            raw = None
        if not _is_event(raw):
            shown = line[:80].decode(errors="replace")
            raise ObserveError(f"the subject sent something that is not an event: {shown!r}")
    raise ObserveError("the subject's event channel could not be read")


def _is_event(raw: Any) -> bool:
    return (
        isinstance(raw, dict)
        and isinstance(raw.get("t"), int)
        and isinstance(raw.get("pid"), int)
        and raw.get("role") in ROLES
        and isinstance(raw.get("kind"), str)
    )


class _Pieces:
    """A line recorded in pieces (a partial line is sent when the program flushes it),
    joined once at its end: linear in its length, and keeping at most ``LINE_BYTES``."""

    def __init__(self, head: dict[str, Any]) -> None:
        self.head = head
        self.parts: list[str] = []
        self.size = 0
        self.cut = 0

    def add(self, text: str, cut: int) -> None:
        self.cut += cut
        room = LINE_BYTES - self.size
        if room <= 0:
            self.cut += len(text.encode(errors="surrogatepass"))
            return
        data = text.encode(errors="surrogatepass")
        if len(data) > room:
            self.cut += len(data) - room
            text = data[:room].decode(errors="ignore")
        self.parts.append(text)
        self.size += min(len(data), room)

    def line(self) -> dict[str, Any]:
        line = self.head
        line["text"] = "".join(self.parts)
        if self.cut:
            line["cut"] = self.cut
        return line


def _add_output(
    raw: dict[str, Any],
    t: float,
    output: list[dict[str, Any]],
    pending: dict[tuple[int, str], _Pieces],
) -> None:
    """Join the pieces of a long line; a line counts from the time of its first piece."""
    key = (raw.get("thread") or raw["pid"], raw.get("stream", "stdout"))
    line = pending.pop(key, None)
    if line is None:
        line = _Pieces({"t": t, "pid": raw["pid"], "stream": key[1], "text": ""})
    if raw.get("thread"):
        line.head["thread"] = raw["thread"]  # printed by a ThreadPool worker thread
    cut = raw.get("cut", 0)
    line.add(str(raw.get("text", "")), cut if isinstance(cut, int) and cut > 0 else 0)
    if raw.get("eol", True):
        output.append(line.line())
    else:
        pending[key] = line


def _raw_lines(obs: Observation) -> list[dict[str, Any]]:
    """Output that bypassed the recorders (a traced program's, C-level writes, crashes):
    no known process. Lines were cut and bounded as they arrived (observer/output.py)."""
    lines: list[dict[str, Any]] = []
    for raw in obs.raw_output.lines:
        line: dict[str, Any] = {
            "t": _seconds(raw.ns, obs.t0_ns),
            "pid": None,
            "stream": raw.stream,
            "text": raw.data.decode(errors="replace"),
        }
        if raw.cut:
            line["cut"] = raw.cut
        lines.append(line)
    return lines


def _bounded(output: list[dict[str, Any]], obs: Observation) -> list[dict[str, Any]]:
    """The first ``OUTPUT_LINES`` lines and ``OUTPUT_BYTES`` characters of ``output``; what is
    left out is counted on a last entry with ``omitted``, which has no text of its own."""
    lines = obs.raw_output.omitted_lines
    size = obs.raw_output.omitted_bytes
    kept = 0
    for n, line in enumerate(output):
        kept += len(line["text"])
        if n >= OUTPUT_LINES or kept > OUTPUT_BYTES:
            lines += len(output) - n
            size += sum(len(o["text"].encode(errors="surrogatepass")) for o in output[n:])
            del output[n:]
            break
    if lines:
        t = output[-1]["t"] if output else 0.0
        output.append(
            {
                "t": t,
                "pid": None,
                "stream": "stdout",
                "text": "",
                "omitted": {"lines": lines, "bytes": size},
            }
        )
    return output


def _observer_events(obs: Observation) -> list[dict[str, Any]]:
    """What the observer itself saw, as events with role ``observer``."""
    found: list[dict[str, Any]] = []
    if obs.timeout_ns is not None:
        found.append(
            {
                "t": _seconds(obs.timeout_ns, obs.t0_ns),
                "pid": obs.pid,
                "role": "observer",
                "kind": "run.timeout",
            }
        )
    if obs.exit_ns is not None:
        found.append(
            {
                "t": _seconds(obs.exit_ns, obs.t0_ns),
                "pid": obs.pid,
                "role": "main",
                "kind": "main.exited",
                "exit_code": obs.exit_code,
                "signal": signal_name(obs.exit_code),
                "killed_by_poolctl": obs.hung,
            }
        )
    if obs.leftovers:
        killed = obs.leftovers_ns or obs.exit_ns or obs.t0_ns
        found.append(
            {
                "t": _seconds(killed, obs.t0_ns),
                "pid": obs.pid,
                "role": "observer",
                "kind": "cleanup.killed",
                "processes": [{"pid": p.pid, "command": p.command} for p in obs.leftovers],
            }
        )
    return found
