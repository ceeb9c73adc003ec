"""What changed between interpreters: the compare rows whose observations differ.

Rows are grouped by (scenario file, start method as asked), so a run left to the default
start method on 3.13 (fork) sits beside the same run on 3.14 (forkserver). Within a group a
quantity *differs* when the interpreters did not see the same set of values: one printed
``Task executing`` in some runs and the other in none, one ended its workers with SIGTERM
and the other with exit 0. A quantity that took the same values on every interpreter is a
race on all of them (its frequencies may differ), never a difference: a handful of repeats
cannot tell 3/10 from 6/10 apart, but it can show a value one interpreter never produced.
"""

from __future__ import annotations

from typing import Any

# The observed quantities compared, in the order they are reported.
QUANTITIES = ("start_method", "tasks", "error", "main_exit_code", "workers", "hung")


def _values(row: dict[str, Any], quantity: str) -> dict[str, int]:
    """``quantity`` in ``row`` as value → number of runs."""
    if quantity == "start_method":
        return {row["start_method"]: row["observed_runs"]}
    seen: dict[str, int] = row["observed"][quantity]
    if quantity != "error":
        return dict(seen)
    # The error's type, not its message: messages may carry ids and change wording.
    types: dict[str, int] = {}
    for value, n in seen.items():
        kind = value.split(":", 1)[0]
        types[kind] = types.get(kind, 0) + n
    return types


def _race_values(row: dict[str, Any], output: str) -> dict[str, int]:
    counts = row["races"].get(output)
    if counts is None:
        return {}
    printed, runs = counts["printed"], counts["runs"]
    values = {"printed": printed, "not printed": runs - printed}
    return {value: n for value, n in values.items() if n}


def _compare(rows: list[dict[str, Any]], values: list[dict[str, int]]) -> dict[str, Any] | None:
    """One difference entry, or None when every interpreter saw the same set of values."""
    if len({frozenset(v) for v in values}) <= 1:
        return None
    everywhere = set.intersection(*(set(v) for v in values))
    return {
        "by_python": [
            {
                "python": row["python"],
                "executable": row["executable"],
                "runs": row["observed_runs"],
                "values": v,
                "only_here": sorted(set(v) - everywhere),
            }
            for row, v in zip(rows, values, strict=True)
        ],
    }


def differences(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each (scenario, start method as asked) whose observations differ across interpreters.

    Marks every row of such a group with the quantities that differ (``row["differs"]``:
    ``"tasks"``, ``"race:Task executing"``, ...); other rows keep their empty list.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row["observed_runs"]:
            groups.setdefault((row["source"], row["requested_start_method"]), []).append(row)
    found = []
    for (_, asked), group in groups.items():
        if len({row["executable"] for row in group}) < 2:
            continue
        entries = []
        for quantity in QUANTITIES:
            entry = _compare(group, [_values(row, quantity) for row in group])
            if entry is not None:
                entries.append({"quantity": quantity, **entry})
        outputs = sorted({output for row in group for output in row["races"]})
        for output in outputs:
            entry = _compare(group, [_race_values(row, output) for row in group])
            if entry is not None:
                entries.append({"quantity": "race", "output": output, **entry})
        # A row names each race that differs by its output: "race:Task executing".
        differing = [e["quantity"] + (f":{e['output']}" if "output" in e else "") for e in entries]
        for row in group:
            row["differs"] = differing
        if entries:
            found.append(
                {
                    "scenario": group[0]["scenario"],
                    "source": group[0]["source"],
                    "start_method": asked,
                    "pythons": [row["python"] for row in group],
                    "differs": entries,
                }
            )
    return found


def describe(entry: dict[str, Any]) -> str:
    """One difference as a line of text, e.g. ``start method — 3.13.0: fork · 3.14.7:
    forkserver`` or ``'Task executing' printed — 3.13.0: 3/5 · 3.14.7: 0/5``."""
    quantity = entry["quantity"]
    versions = [seen["python"] for seen in entry["by_python"]]
    # Two builds of one version (say a free-threaded one labelled alike): name the paths.
    key = "python" if len(set(versions)) == len(versions) else "executable"
    parts = []
    for seen in entry["by_python"]:
        values = seen["values"]
        if quantity == "race":
            shown = f"{values.get('printed', 0)}/{seen['runs']}"
        elif len(values) == 1:
            shown = next(iter(values))
        else:
            ordered = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{value} ({n})" for value, n in ordered)
        parts.append(f"{seen[key]}: {shown}")
    label = f"'{entry['output']}' printed" if quantity == "race" else LABELS[quantity]
    return f"{label} — " + " · ".join(parts)


LABELS = {
    "start_method": "start method",
    "tasks": "tasks done/int/never",
    "error": "error type",
    "main_exit_code": "main exit",
    "workers": "workers",
    "hung": "hung",
}
