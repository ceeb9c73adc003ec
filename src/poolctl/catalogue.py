"""The bundled scenarios: where they are and what they are called.

Kept apart from the scenario model so that 'poolctl list' needs neither the model nor a
TOML parser for the common case.
"""

from __future__ import annotations

import re
from pathlib import Path


def scenario_dir() -> Path:
    """Where the bundled scenarios are: inside the installed package, or the source tree."""
    bundled = Path(__file__).resolve().parent / "scenarios"
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[2] / "scenarios"


def bundled_names() -> list[str]:
    """Names of the bundled scenarios, sorted."""
    return sorted(p.stem for p in scenario_dir().glob("*.toml"))


def summaries() -> list[tuple[str, str]]:
    """(name, summary) of each bundled scenario, read without the full validation that
    'run' applies: 'list' should be as quick as '--version'."""
    found = []
    for path in sorted(scenario_dir().glob("*.toml"), key=lambda p: p.stem):
        text = path.read_text(encoding="utf-8")
        # tomllib is pure Python: twenty files cost 15 ms. A one-line basic string (how
        # every bundled summary is written) is read directly; anything else is parsed.
        match = _SUMMARY.search(text)
        if match and "\\" not in match.group(1):
            found.append((path.stem, match.group(1)))
        else:
            import tomllib

            found.append((path.stem, str(tomllib.loads(text).get("summary", ""))))
    return found


def listing() -> list[dict[str, str]]:
    """``poolctl list --json``: each bundled scenario's name, summary and file."""
    folder = scenario_dir()
    return [
        {"name": name, "summary": summary, "source": str(folder / f"{name}.toml")}
        for name, summary in summaries()
    ]


_SUMMARY = re.compile(r'^summary\s*=\s*"([^"\n]*)"\s*$', re.MULTILINE)
