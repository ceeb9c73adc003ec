"""poolctl: see how Python's process pools really shut down.

The Python API (docs/api.md)::

    import poolctl

    doc = poolctl.run("close-join", duration=0.2)  # the document 'poolctl run --json' prints
    doc["outcome"]["tasks"]

Everything listed in ``__all__`` is imported on first use (PEP 562), so ``import
poolctl`` stays cheap and imports neither the observer nor the command line's libraries.
"""

# Neither ``typing.TYPE_CHECKING`` nor ``from __future__ import annotations``: importing
# typing would take ten times as long as importing poolctl, and __future__ half as long
# (type checkers know the name TYPE_CHECKING by itself).
TYPE_CHECKING = False

__version__ = "0.1.0"

__all__ = [
    "CompareDocument",
    "CompareRun",
    "Interrupted",
    "ObserveError",
    "PoolctlError",
    "RunDocument",
    "TraceError",
    "UsageError",
    "__version__",
    "compare",
    "exit_status",
    "load_document",
    "load_documents",
    "render_html",
    "render_perfetto",
    "render_svg",
    "run",
    "trace",
]

# Where each public name lives: the private core stays free to move behind this surface.
_HOMES = {
    "compare": "api",
    "exit_status": "api",
    "load_document": "api",
    "load_documents": "api",
    "render_html": "api",
    "render_perfetto": "api",
    "render_svg": "api",
    "run": "api",
    "trace": "api",
    "Interrupted": "errors",
    "ObserveError": "errors",
    "PoolctlError": "errors",
    "TraceError": "errors",
    "UsageError": "errors",
    "CompareDocument": "types",
    "CompareRun": "types",
    "RunDocument": "types",
}

if TYPE_CHECKING:
    from typing import Any

    from .api import (
        compare,
        exit_status,
        load_document,
        load_documents,
        render_html,
        render_perfetto,
        render_svg,
        run,
        trace,
    )
    from .errors import Interrupted, ObserveError, PoolctlError, TraceError, UsageError
    from .types import CompareDocument, CompareRun, RunDocument


def __getattr__(name: str) -> "Any":
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'poolctl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # found once; later look-ups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
