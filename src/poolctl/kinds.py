"""Event kinds that more than one view needs to know, defined once.

The subject (a separate, standard-library-only package) writes these names; the views
read them from run documents.
"""

# Main-process calls reported as '<name>.called' and '<name>.returned' (every scenario step,
# and leaving a 'with' block).
CALLS = (
    "close",
    "terminate",
    "join",
    "sleep",
    "shutdown",
    "with-exit",
    "del",
    "kill-worker",
    "get-results",
)
