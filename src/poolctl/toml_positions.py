"""Where things are in a TOML text: the line each key, table and array item starts on.

``tomllib`` gives values, not positions; a message about a scenario file should still name
the line to fix. A place in a file is a ``KeyPath`` from the top of the document
(``("steps", 0, "seconds")``), written the way TOML writes it (``steps[0].seconds``).
Nothing here knows what a scenario is.
"""

from __future__ import annotations

import contextlib
import json
import re
import tomllib

# A key, or an item of an array, as a path from the top of the file: ("steps", 0, "seconds").
KeyPath = tuple[str | int, ...]
# A TOML key that needs no quotes.
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# A value that is not a string, an array or an inline table, up to what ends it.
_SCALAR = re.compile(r"[^,\]}#\r\n]*")


class Positions:
    """The lines of one TOML text's key paths, found the first time one is asked for."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: dict[KeyPath, int] | None = None

    def line_of(self, where: KeyPath) -> int | None:
        """The line ``where`` starts on; for a path the text lacks (a missing option), the
        line of the nearest enclosing one that it has; None when there is none."""
        if self._lines is None:
            self._lines = _Walker(self.text).lines
        while where:
            if where in self._lines:
                return self._lines[where]
            where = where[:-1]
        return None


class _Walker:
    """The line each key, table and array item of a TOML text starts on, by ``KeyPath``.

    The text has already been parsed by ``tomllib``, so it is valid TOML: this only walks
    its structure, following ``[table]`` and ``[[array]]`` headers (and which element of an
    array a header opens), dotted keys, inline tables and arrays, and skipping strings and
    comments. A key's name alone is not enough: ``hung`` may be a key of ``[expect]`` and
    of each ``[[race]]``.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[KeyPath, int] = {}
        self._arrays: dict[KeyPath, int] = {}  # array of tables -> its elements so far
        # A line number is a courtesy: never let finding it hide the real problem.
        with contextlib.suppress(IndexError, ValueError, tomllib.TOMLDecodeError):
            self._document()

    def _line(self) -> int:
        return self.text.count("\n", 0, self.pos) + 1

    def _note(self, path: KeyPath, line: int) -> None:
        for end in range(1, len(path) + 1):
            self.lines.setdefault(path[:end], line)

    def _document(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.text.startswith("[[", self.pos):
                line = self._line()
                self.pos += 2
                keys = self._key()
                self._expect("]]")
                array = (*self._resolve(keys[:-1]), keys[-1])
                index = self._arrays.get(array, 0)
                self._arrays[array] = index + 1
                table = (*array, index)
                self._note(table, line)
            elif self.text[self.pos] == "[":
                line = self._line()
                self.pos += 1
                table = self._resolve(self._key())
                self._expect("]")
                self._note(table, line)
            else:
                self._keyval(table)

    def _resolve(self, keys: list[str]) -> KeyPath:
        """A header's path: a key naming an array of tables means its latest element."""
        path: KeyPath = ()
        for key in keys:
            path = (*path, key)
            if path in self._arrays:
                path = (*path, self._arrays[path] - 1)
        return path

    def _keyval(self, table: KeyPath) -> None:
        line = self._line()
        path = (*table, *self._key())
        self._note(path, line)
        self._skip()
        self._expect("=")
        self._value(path)

    def _key(self) -> list[str]:
        keys = []
        while True:
            self._skip()
            char = self.text[self.pos]
            if char in "\"'":
                start = self.pos
                self._string()
                keys.append(tomllib.loads(f"k = {self.text[start : self.pos]}")["k"])
            else:
                match = BARE_KEY.match(self.text, self.pos)
                if match is None:
                    raise ValueError(f"no key at offset {self.pos}")
                keys.append(match.group())
                self.pos = match.end()
            self._skip()
            if self.text[self.pos] != ".":
                return keys
            self.pos += 1

    def _value(self, path: KeyPath) -> None:
        self._skip()
        char = self.text[self.pos]
        if char in "\"'":
            self._string()
        elif char == "[":
            self.pos += 1
            index = 0
            while True:
                self._skip(newlines=True)
                if self.text[self.pos] == "]":
                    break
                self._note((*path, index), self._line())
                self._value((*path, index))
                index += 1
                self._skip(newlines=True)
                if self.text[self.pos] == ",":
                    self.pos += 1
            self.pos += 1
        elif char == "{":
            self.pos += 1
            while True:
                self._skip(newlines=True)
                if self.text[self.pos] == "}":
                    break
                self._keyval(path)
                self._skip(newlines=True)
                if self.text[self.pos] == ",":
                    self.pos += 1
            self.pos += 1
        else:  # a number, a boolean, a date and time (which may hold a space)
            match = _SCALAR.match(self.text, self.pos)
            if match is None or match.end() == self.pos:
                raise ValueError(f"no value at offset {self.pos}")
            self.pos = match.end()

    def _string(self) -> None:
        """Step over the string starting here (basic or literal, one line or several)."""
        text, quote = self.text, self.text[self.pos]
        if text.startswith(quote * 3, self.pos):
            end = self.pos + 3
            while not text.startswith(quote * 3, end):
                if end >= len(text):
                    raise ValueError("the string never ends")
                end += 2 if quote == '"' and text[end] == "\\" else 1
            end += 3
            # Up to two quotes just before the closing ones belong to the string.
            for _ in range(2):
                if end < len(text) and text[end] == quote:
                    end += 1
            self.pos = end
            return
        end = self.pos + 1
        while text[end] != quote:
            end += 2 if quote == '"' and text[end] == "\\" else 1
        self.pos = end + 1

    def _skip(self, *, newlines: bool = False) -> None:
        """Step over spaces and tabs, and a comment; with ``newlines``, over blank lines too."""
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t" or (newlines and char in "\r\n"):
                self.pos += 1
            elif char == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def _expect(self, token: str) -> None:
        self._skip()
        if not self.text.startswith(token, self.pos):
            raise ValueError(f"expected {token!r} at offset {self.pos}")
        self.pos += len(token)


def written(path: KeyPath) -> str:
    """A path as TOML writes it: ``pool.workers``, ``steps[0].seconds``, ``"odd key"``."""
    shown = ""
    for part in path:
        if isinstance(part, int):
            shown += f"[{part}]"
        else:
            key = part if BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            shown += f".{key}" if shown else key
    return shown
