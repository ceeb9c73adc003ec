"""Where the program made a call: the first frame outside the standard library and poolctl.

``here()`` walks ``sys._getframe`` (``stdlib_private.caller_frame``) up from its caller
(no ``inspect``, no ``traceback``: they build objects for every frame) and returns the site
as JSON text, ready for an event (``channel.Encoded``, written as is). What it learns is
kept: whether a code object is the library's or the program's, and the text of each site,
so that a call from the same line costs a few dictionary look-ups and no formatting.
Called once per pool, lifecycle call, submitting call and read that waits, never per
task.

A scenario's sites are lines of its equivalent program (``poolctl show NAME --code``),
known to the observer and given in the spec: ``encoded`` makes their text.
"""

import os

from . import channel
from . import stdlib_private as private

_SUBJECT = os.path.dirname(os.path.abspath(__file__)) + os.sep
# The standard library's folder; its site-packages (below it on most installs) is not it.
_LIBRARY = os.path.dirname(os.path.abspath(os.__file__)) + os.sep
_INSTALLED = ("site-packages", "dist-packages")

_library_code = {}  # code object -> whether it is the standard library's or poolctl's
_sites = {}  # (code object, line) -> its site, encoded


def _is_library(filename):
    if filename.startswith("<frozen"):  # the standard library's frozen modules
        return True
    if filename.startswith(_SUBJECT):
        return True
    if filename.startswith(_LIBRARY):
        rest = filename[len(_LIBRARY) :]
        return not rest.startswith(_INSTALLED)
    return False


def encoded(file, line, function):
    """A site as an event carries it: ``{"file", "line", "function"}`` as JSON text."""
    return channel.encoded({"file": file, "line": line, "function": function})


def here():
    """The site of the program's call that led here (None if every frame is the library's:
    an exit handler, a thread of the standard library)."""
    return _walk(private.caller_frame(1))[0]


def entered():
    """``(site, name)``: the site of the program's call that led here (as ``here``), and the
    name of the standard library's function it called (``map`` for a ``get()`` that
    ``Pool.map`` makes; None when no frame is the program's)."""
    return _walk(private.caller_frame(1))


def _walk(frame):
    """Up from ``frame`` to the first frame of the program: its site, and the name of the
    last frame of the library's before it."""
    name = None
    while frame is not None:
        code = frame.f_code
        library = _library_code.get(code)
        if library is None:
            library = _library_code[code] = _is_library(code.co_filename)
        if not library:
            key = (code, frame.f_lineno)
            site = _sites.get(key)
            if site is None:
                site = _sites[key] = encoded(code.co_filename, frame.f_lineno, code.co_name)
            return site, name
        name = code.co_name
        frame = frame.f_back
    return None, None


def of_scenario(program):
    """A scenario's sites (``pool``, ``submit``, ``steps``, ``with``), encoded; each None
    where the spec gives none."""
    given = program.get("sites") or {}

    def one(site):
        return None if site is None else encoded(site["file"], site["line"], site["function"])

    steps = [one(site) for site in given.get("steps", [])]
    steps += [None] * (len(program["steps"]) - len(steps))
    return {
        "pool": one(given.get("pool")),
        "submit": one(given.get("submit")),
        "steps": steps,
        "with": one(given.get("with")),
    }
