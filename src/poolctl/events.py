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
    pending: dict[tuple[int, str], dict[str, Any]] = {}
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
    output.extend(pending.values())
    output.extend(_raw_lines(obs))
    events.extend(_observer_events(obs))
    events.sort(key=lambda e: e["t"])
    output.sort(key=lambda o: o["t"])
    return events, output


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


def _add_output(
    raw: dict[str, Any],
    t: float,
    output: list[dict[str, Any]],
    pending: dict[tuple[int, str], dict[str, Any]],
) -> None:
    """Join the pieces of a long line; a line counts from the time of its first piece."""
    key = (raw.get("thread") or raw["pid"], raw.get("stream", "stdout"))
    line = pending.pop(key, None) or {"t": t, "pid": raw["pid"], "stream": key[1], "text": ""}
    if raw.get("thread"):
        line["thread"] = raw["thread"]  # printed by a ThreadPool worker thread
    line["text"] += str(raw.get("text", ""))
    if raw.get("eol", True):
        output.append(line)
    else:
        pending[key] = line


def _raw_lines(obs: Observation) -> list[dict[str, Any]]:
    """Output that bypassed the recorders (C-level writes, crashes): no known process."""
    lines: list[dict[str, Any]] = []
    partial: dict[str, tuple[int, str]] = {}
    for ns, stream, chunk in obs.raw_output:
        start, text = partial.pop(stream, (ns, ""))
        parts = (text + chunk.decode(errors="replace")).split("\n")
        for part in parts[:-1]:
            lines.append(
                {"t": _seconds(start, obs.t0_ns), "pid": None, "stream": stream, "text": part}
            )
            start = ns
        if parts[-1]:
            partial[stream] = (start, parts[-1])
    for stream, (ns, text) in partial.items():
        lines.append({"t": _seconds(ns, obs.t0_ns), "pid": None, "stream": stream, "text": text})
    return lines


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
