"""Compare a scenario's documented expectation with what really happened.

The expectation is never substituted for reality: each guaranteed claim becomes a check
with what was expected, what was observed, and whether they agree. Timing-dependent
claims (races) are only observed and reported, never passed or failed.
"""

from __future__ import annotations

from typing import Any

from .expect_conditions import not_applicable
from .scenario import Race


def evaluate(
    expect: dict[str, Any],
    outcome: dict[str, Any],
    output: list[dict[str, Any]],
    python: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One check per claim in ``expect``, in a fixed order.

    A claim that holds only on other interpreters (``[expect.only_on]``; ``python`` is the
    document's section) is still checked and shown, after the others, but as
    ``not_applicable`` (why, in words): it neither passes nor fails the run.
    """
    skipped = not_applicable(expect, python)
    applicable = {k: v for k, v in expect.items() if k not in skipped}
    checks = _checks(applicable, outcome, output)
    for key, why in skipped.items():
        for check in _checks({key: expect[key]}, outcome, output):
            checks.append({**check, "ok": True, "not_applicable": why})
    return checks


def _checks(
    expect: dict[str, Any], outcome: dict[str, Any], output: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    tasks = outcome["tasks"]

    def check(claim: str, expected: Any, observed: Any, ok: bool) -> None:
        checks.append({"claim": claim, "expected": expected, "observed": observed, "ok": ok})

    if "completed" in expect:
        want = tasks["submitted"] if expect["completed"] == "all" else expect["completed"]
        claim = {0: "no task completes"}.get(want, f"{want} task(s) complete")
        if expect["completed"] == "all":
            claim = "every task completes"
        check(claim, want, tasks["completed"], tasks["completed"] == want)
    if "failed" in expect:
        want = expect["failed"]
        check(f"{want} task(s) fail", want, tasks["failed"], tasks["failed"] == want)
    if "error" in expect:
        error = outcome["error"]
        seen = f"{error['type']}: {error['message']}" if error else "none"
        want = expect["error"]
        claim = "no error is raised" if want == "none" else f"raises {want}"
        # A bare type ('BrokenProcessPool') leaves the message free: it varies by version.
        ok = seen == want or (error is not None and ":" not in want and error["type"] == want)
        check(claim, want, seen, ok)
    if "main_exit_code" in expect:
        want, seen = expect["main_exit_code"], outcome["main"]["exit_code"]
        check(f"the main process exits with {want}", want, seen, seen == want)
    if "hung" in expect:
        want, seen = expect["hung"], outcome["hung"]
        claim = "the run hangs (stopped at --timeout)" if want else "the run does not hang"
        check(claim, want, seen, seen == want)
    printed = {line["text"] for line in output}
    for text in expect.get("output_includes", []):
        check(f"'{text}' is printed", True, text in printed, text in printed)
    for text in expect.get("output_excludes", []):
        check(f"'{text}' is never printed", False, text in printed, text not in printed)
    for text in expect.get("output_per_task", []):
        times = sum(1 for line in output if line["text"] == text)
        want = tasks["submitted"]
        check(f"'{text}' is printed once per task", want, times, times == want)
    lines = [line["text"] for line in output]
    for text in expect.get("output_mentions", []):
        seen = any(text in line for line in lines)
        check(f"'{text}' is printed", True, seen, seen)
    if "task_workers" in expect:
        runs = [t["worker"] for t in outcome["task_runs"] if t["worker"] is not None]
        ok = len(runs) == len(set(runs)) == tasks["started"]
        check("every task runs in a worker of its own", "distinct", runs, ok)
    if "min_never_started" in expect:
        want = expect["min_never_started"]
        seen = tasks["never_started"]
        check(f"at least {want} queued tasks never start", want, seen, seen >= want)
    if "worker_exit_code" in expect:
        want = expect["worker_exit_code"]
        codes = [w["exit_code"] for w in outcome["workers"]]
        ok = bool(codes) and all(code == want for code in codes)
        check(f"every worker exits with {want}", want, codes, ok)
    if "interrupted_worker_exit" in expect:
        want = expect["interrupted_worker_exit"]
        busy = {t["worker"] for t in outcome["task_runs"] if t["status"] == "interrupted"}
        seen = [w["signal"] for w in outcome["workers"] if w["pid"] in busy]
        check(
            f"a worker whose task was interrupted ends by {want}",
            want,
            seen,
            all(s == want for s in seen),
        )
    return checks


def observe_races(
    races: tuple[Race, ...], outcome: dict[str, Any], output: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """What each timing-dependent claim turned out to be in this run."""
    printed = {line["text"] for line in output}
    observed = []
    for r in races:
        if r.output is not None:
            observed.append({"output": r.output, "why": r.why, "printed": r.output in printed})
        else:
            observed.append({"hung": True, "why": r.why, "happened": outcome["hung"]})
    return observed
