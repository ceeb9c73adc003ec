"""Documents against the published JSON Schemas (src/poolctl/schemas/), as the tests use them.

Every document the suite produces is checked: conftest wraps the builders of documents
made in-process, and checks every document a command prints on stdout. A document that
does not match fails its test with the paths and what is wrong at each.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import relevance
from referencing import Registry, Resource

# Each document's ``schema`` value and the file that describes it.
SCHEMA_FILES = {"poolctl.run/1": "run-1.schema.json", "poolctl.compare/1": "compare-1.schema.json"}
# The same document is often checked twice (the builder's or the command's check, then the
# test's own), and a traced map's document of 30,000 events takes jsonschema 9 s: the
# verdicts of the last documents seen are kept by a digest of their content.
CHECKED_KEPT = 64
_checked: dict[bytes, list[str]] = {}
# Enough of what is wrong to see why, not the whole document.
SHOWN_ERRORS = 5
SHOWN_CHARS = 300


def schema_dir() -> Traversable:
    """The schemas as the installed package ships them."""
    return files("poolctl") / "schemas"


@functools.cache
def schemas() -> dict[str, dict[str, Any]]:
    """Each published schema, by the ``schema`` value of the documents it describes."""
    return {
        name: json.loads((schema_dir() / file).read_text(encoding="utf-8"))
        for name, file in SCHEMA_FILES.items()
    }


@functools.cache
def validators() -> dict[str, Draft202012Validator]:
    """A validator per schema; the compare schema finds the run schema by its ``$id``."""
    registry: Registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas().values()
    )
    return {
        name: Draft202012Validator(schema, registry=registry) for name, schema in schemas().items()
    }


def schema_errors(document: Any) -> list[str]:
    """What is wrong with ``document`` against its published schema, most relevant first,
    one line each (``$.events[3].kind: ...``); empty when it is valid."""
    key = _fingerprint(document)
    if key is not None and key in _checked:
        return list(_checked[key])
    name = document.get("schema") if isinstance(document, dict) else None
    validator = validators().get(name) if isinstance(name, str) else None
    if validator is None:
        return [f"$.schema: no published schema for {name!r} (known: {', '.join(SCHEMA_FILES)})"]
    errors = sorted(validator.iter_errors(document), key=relevance)
    problems = [_shorten(f"{error.json_path}: {error.message}") for error in errors]
    if key is not None:
        if len(_checked) >= CHECKED_KEPT:
            _checked.pop(next(iter(_checked)))
        _checked[key] = problems
    return list(problems)


def _fingerprint(document: Any) -> bytes | None:
    """A digest of ``document``'s content; None for one JSON cannot hold."""
    try:
        text = json.dumps(document, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return hashlib.blake2b(text.encode(), digest_size=20).digest()


def report(document: dict[str, Any], source: str, problems: list[str]) -> str:
    """A failure message: which document, which schema file, what is wrong."""
    schema = document.get("schema")
    file = SCHEMA_FILES.get(schema, "?") if isinstance(schema, str) else "?"
    shown = "\n".join(f"  {problem}" for problem in problems[:SHOWN_ERRORS])
    more = len(problems) - SHOWN_ERRORS
    tail = f"\n  ... and {more} more" if more > 0 else ""
    return (
        f"the {schema} document of {source} does not match src/poolctl/schemas/{file}:\n"
        f"{shown}{tail}"
    )


def check(document: dict[str, Any], source: str) -> None:
    """Fail (AssertionError) when ``document`` does not match its schema."""
    problems = schema_errors(document)
    assert not problems, report(document, source, problems)


def documents_in(stdout: str) -> list[dict[str, Any]]:
    """The poolctl documents a command printed: the whole of stdout (``--json``), or one a
    line (``--jsonl``). Anything else (a view, a traced program's own output) is not one."""
    try:
        found = [json.loads(stdout)]
    except ValueError:
        found = []
        for line in stdout.splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
    return [
        doc
        for doc in found
        if isinstance(doc, dict) and str(doc.get("schema", "")).startswith("poolctl.")
    ]


class BuiltDocuments:
    """Checks the documents a builder returns, without changing what the builder does: a
    mismatch is kept, and the test that made it fails when it ends (``failures``). (An
    exception raised inside a run would be reported as that run's failure, or swallowed by
    compare's worker threads, rather than as the schema's.)"""

    def __init__(self) -> None:
        self._failures: list[str] = []

    def wrap(self, build: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        """``build``, with each document it returns checked."""

        @functools.wraps(build)
        def checked(*args: Any, **kwargs: Any) -> dict[str, Any]:
            document = build(*args, **kwargs)
            problems = schema_errors(document)
            if problems:
                self._failures.append(report(document, f"{build.__name__}()", problems))
            return document

        return checked

    def failures(self) -> list[str]:
        """The mismatches found since the last call, and forget them."""
        found, self._failures = self._failures, []
        return found


def _shorten(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."
