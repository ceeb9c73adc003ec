"""How poolctl hooks a standard-library method, and what every hook shares.

``install`` puts a hook into the method's own frame (``same_frame``), guarded: what the
hook raises is poolctl's failure (``observer.failed``), and the call goes on with the
program's own arguments, as if nothing were patched. The program never sees poolctl's
exception.
"""

from . import same_frame, shared_events
from . import stdlib_private as private

# .level: how deep this thread is in instrumented calls; .marking: the submitting call (a
# result_reads.Submission) whose result handles are being made (ApplyResult, IMapIterator,
# Future). Not threading's: that module is the program's to import.
local = private.thread_local()


# The attribute that marks a result handle of a pool poolctl follows with its Submission
# (as ``_poolctl`` marks a followed pool): a Future's reads are reported only for those. An
# attribute, not a weak map: a weak reference made, looked up and called back per task
# cost 1.3 us more.
MARK = "_poolctl"


def failed(where, exc):
    """Report poolctl's own failure ``where``: an ``observer.failed`` event, never raised."""
    shared_events.observer_failed("instrument: " + where, exc)


def install(owner, name, enter, inputs, outputs=(), around=True, where=None):
    """Instrument ``owner.<name>`` in its own frame (``same_frame``) with the hook ``enter``,
    guarded: what it raises is poolctl's failure, and the call goes on with its own
    arguments, unobserved. A method that cannot be instrumented is left as it is."""
    kept = len(outputs)

    def guarded(*values):
        try:
            return enter(*values)
        except Exception as exc:
            failed(where or name, exc)
            own = values[len(values) - kept :] if kept else ()
            return (None,) + own if around else own

    try:
        function = getattr(owner, name)
        if same_frame.is_copy(function):  # a base class's, instrumented already
            return
        present = same_frame.parameters(function)
        inputs = tuple(i for i in inputs if i in present or i == "None")
        same_frame.instrument(owner, name, guarded, inputs, outputs, around)
    except Exception as exc:
        failed("patching %s.%s" % (owner.__name__, name), exc)


def report_error(name, exc, pool_id, call=None):
    """``error.raised`` (``call``: the submitting call whose result a read raised); what it
    raises itself is poolctl's failure, not the program's."""
    try:
        if call is None:
            shared_events.error_raised(name, exc, pool=pool_id)
        else:
            shared_events.error_raised(name, exc, pool=pool_id, call=call)
    except Exception as fault:
        failed(name, fault)
