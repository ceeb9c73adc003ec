"""Every string of a document reaches the exports escaped: the SVG stays well-formed XML,
the HTML page gains no element or attribute, the trace stays JSON, whatever the strings
hold (markup, quotes, ``]]>``, ``</script>``, control characters, U+202E, surrogates)."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema.exceptions import ValidationError

from conftest import run_cli, run_pipeline
from poolctl.render import exports
from schema_validation import validators

HOSTILE = (
    "<b onclick='x()' id=\"y\">&amp;&lt;]]></script><script>alert(1)</script>"
    "\x00\x07\x1b[2J\x1b]52;c;Zm9v\x07\x7f\x85\u202eevil\u2066\ud800\udfff\ufffe\uffff--><!--"
)
# A traced program that raises, in a task and in its main, with a message of markup.
PROGRAM = """\
import multiprocessing as mp

MESSAGE = {message!r}

def task(x):
    raise ValueError(MESSAGE)

if __name__ == "__main__":
    with mp.Pool(1) as pool:
        try:
            pool.apply(task, (1,))
        except ValueError:
            pass
    raise RuntimeError(MESSAGE)
"""


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Real documents of each kind: a scenario's run, a traced program's, a comparison."""
    folder = tmp_path_factory.mktemp("docs")
    program = folder / "hostile.py"
    program.write_text(PROGRAM.format(message=HOSTILE.replace("\ud800\udfff", "")))
    traced = run_cli("trace", "--json", str(program))
    compared = run_cli("compare", "close-join", "task-raises", "--duration", "0.05", "--json")
    return {
        "run": run_pipeline("task-raises", duration=0.05),
        "program": json.loads(traced.stdout),
        "compare": json.loads(compared.stdout),
    }


def free_text(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The paths of the document's strings that its schema leaves free (every string not
    held to an enum or a pattern): those the test fills with hostile text."""
    validator = validators()[document["schema"]]
    paths = list(_strings(document, ()))
    filled = copy.deepcopy(document)
    for path in paths:
        _set(filled, path, HOSTILE)
    constrained = set()
    while errors := list(validator.iter_errors(filled)):
        for error in errors:
            path = _string_under(error, paths)
            constrained.add(path)
            _set(filled, path, _get(document, path))
    return [path for path in paths if path not in constrained]


def _strings(node: Any, path: tuple[Any, ...]) -> Any:
    if isinstance(node, str):
        yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, (*path, index))


def _string_under(error: ValidationError, paths: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The filled string an error is about (an anyOf's error may sit on its parent)."""
    where = tuple(error.absolute_path)
    for path in paths:
        if path[: len(where)] == where:
            return path
    raise AssertionError(f"a schema error on no string: {error.message}")


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(node, path[:-1])[path[-1]] = value


def filled(document: dict[str, Any], paths: list[tuple[Any, ...]], text: str) -> dict[str, Any]:
    """``document`` with ``text`` in every free string, and as the keys of a comparison's
    distributions (its claims, outputs and observed values)."""
    result = copy.deepcopy(document)
    for path in paths:
        _set(result, path, text)
    for row in result.get("summary", {}).get("rows", []):
        row["failed_checks"] = {text: 1}
        row["races"] = {text: {"printed": 1, "runs": 2}}
        row["observed"] = {
            key: {text: 1} if seen else seen for key, seen in row["observed"].items()
        }
    return result


class _Structure(HTMLParser):
    """Every element and attribute name of a page, in order, and all its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, tuple[str, ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, tuple(name for name, _ in attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.elements.append(("<!--", ()))


def html_structure(page: str) -> _Structure:
    parser = _Structure()
    parser.feed(page)
    parser.close()
    return parser


def svg_structure(svg: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(e.tag, tuple(sorted(e.attrib))) for e in ET.fromstring(svg).iter()]


def assert_exports_safe(plain: dict[str, Any], hostile: dict[str, Any]) -> None:
    """The hostile document's exports parse, with exactly the elements and attributes of
    the same document holding plain text; no unsafe character is left in them."""
    svg = exports.content("svg", hostile)
    assert svg_structure(svg) == svg_structure(exports.content("svg", plain))
    page = exports.content("html", hostile)
    parsed = html_structure(page)
    assert parsed.elements == html_structure(exports.content("html", plain)).elements
    for text in (svg, page):
        text.encode("utf-8")  # no lone surrogate left
        assert not [c for c in text if (ord(c) < 0x20 and c not in "\t\n\r") or c == "\u202e"]
    trace = exports.content("trace", hostile)
    assert trace.isascii()
    # No lone surrogate escaped either (``\ud800``): many JSON readers refuse it.
    json.dumps(json.loads(trace), ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("kind", ["run", "program", "compare"])
def test_hostile_strings_are_escaped_in_every_export(
    documents: dict[str, dict[str, Any]], kind: str
) -> None:
    """Every free string of a real document replaced by hostile text: still one picture,
    one page, one trace, and the text shown as text."""
    original = documents[kind]
    paths = free_text(original)
    assert len(paths) >= 10
    hostile = filled(original, paths, HOSTILE)
    assert_exports_safe(filled(original, paths, "plain"), hostile)
    shown = "".join(html_structure(exports.content("html", hostile)).text)
    assert "</script><script>alert(1)</script>" in shown
    assert "\\x1b[2J" in shown and "\\u202eevil" in shown


def test_a_traced_program_cannot_inject_into_its_exports(
    documents: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """Through the real entry point: the program's own messages, exported."""
    saved = tmp_path / "program.json"
    saved.write_text(json.dumps(documents["program"]))
    svg, page = tmp_path / "out.svg", tmp_path / "out.html"
    result = run_cli("render", str(saved), "--svg", str(svg), "--html", str(page))
    assert result.returncode == 0, result.stderr
    titles = "".join(ET.parse(svg).getroot().itertext())
    assert "alert(1)" in titles
    assert ("script", ()) not in html_structure(page.read_text()).elements


@pytest.fixture(scope="module")
def run_paths(documents: dict[str, dict[str, Any]]) -> list[tuple[Any, ...]]:
    return free_text(documents["program"])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(st.characters(exclude_categories=()), min_size=1, max_size=12))
def test_any_string_in_a_document_keeps_every_export_well_formed(
    documents: dict[str, dict[str, Any]], run_paths: list[tuple[Any, ...]], text: str
) -> None:
    """Whatever the strings of a traced program's document are, its exports parse with the
    structure of the real ones."""
    original = documents["program"]
    plain = filled(original, run_paths, "plain")
    assert_exports_safe(plain, filled(original, run_paths, text))
