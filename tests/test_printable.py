"""``printable``: the one function every text from outside goes through before a terminal."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CliResult
from poolctl.printable import printable

HOSTILE = "\x1b]52;c;aGk=\x07 \x9b2J \u202eevil\u2066 [link=https://evil.example/]x[/link]"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
        ("\x1b]8;;https://x/\x1b\\", "\\x1b]8;;https://x/\\x1b\\"),
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b"),  # NUL, DEL, C1 NEL and CSI
        ("abc\u202edef", "abc\\u202edef"),  # right-to-left override
        (
            "\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d",
            "".join(
                f"\\u{c:04x}"
                for c in (0x2066, 0x2067, 0x2068, 0x2069, 0x202A, 0x202B, 0x202C, 0x202D)
            ),
        ),
        ("\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"),  # marks
        ("\u2028\u2029\ud800", "\\u2028\\u2029\\ud800"),
        ("é ✓ 日本 👍\u200d👍 'quoted' \\", "é ✓ 日本 👍\u200d👍 'quoted' \\"),  # kept as is
    ],
)
def test_controls_and_bidi_are_escaped_and_the_rest_kept(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_a_saved_compare_document_renders_escaped(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    """Strings of a compare document (a scenario name, a claim, a race, a reason) reach
    the terminal escaped and never as markup."""
    done = cli("compare", "close-join", "--start-method", "fork", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    row = doc["summary"]["rows"][0]
    row["scenario"] = HOSTILE
    row["failed_checks"] = {HOSTILE: 1}
    row["races"] = {HOSTILE: {"printed": 1, "runs": 1}}
    row["observed"]["error"] = {HOSTILE: 1}
    saved = tmp_path / "compare.json"
    saved.write_text(json.dumps(doc))
    shown = cli("render", str(saved), "--no-color")
    text = shown.stdout
    for raw in ("\x1b", "\x9b", "\x07", "\u202e", "\u2066"):
        assert raw not in text, f"{raw!r} reached the terminal: {text!r}"
    assert "\\x1b]52;c;aGk=\\x07" in text.replace("\n", "")
    assert "[link=" in text.replace("\n", "")  # shown as text, not read as markup
