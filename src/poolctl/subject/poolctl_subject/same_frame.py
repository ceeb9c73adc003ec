"""Instrument a method of the standard library inside its own frame.

A wrapper function around a method is a frame of its own: it shows in every traceback
that passes through it, and on CPython before 3.11 and on PyPy no re-raise can take it
out again. So ``instrument`` does not wrap: it compiles a copy of the method from its own
source, at its own lines and columns, with a call to poolctl's hook first and the body
inside a ``try``::

    def apply_async(self, func, args=(), kwds={}, callback=None, error_callback=None):
        _poolctl_call, func = _poolctl_enter(self, func)   # the hook may replace arguments
        try:
            <the method's own body, unchanged>
        except BaseException as _poolctl_error:
            if _poolctl_call is not None:
                _poolctl_call.failed(_poolctl_error)
            raise                                           # re-raised: no frame added
        finally:
            if _poolctl_call is not None:
                _poolctl_call.exit()

The copy has the method's signature (its own header: defaults, keyword-only and
positional-only parameters), name, qualified name and docstring; Python binds the
caller's arguments exactly as it would for the original, and a traceback through it shows
the standard library's file, line and source text, as plainly. A method whose source
cannot be found, or whose source does not compile to the code that is running, is not
instrumented (``instrument`` raises; the caller reports it).
"""

import linecache
import types

from . import stdlib_private as private

# The names the copy's hook code uses (locals of the copy, a free variable for the hook).
_ENTER = "_poolctl_enter"
_AROUND = """
{targets}_poolctl_enter({inputs})
try:
    pass
except BaseException as _poolctl_error:
    if _poolctl_call is not None:
        _poolctl_call.failed(_poolctl_error)
    raise
finally:
    if _poolctl_call is not None:
        _poolctl_call.exit()
"""
_BEFORE = "{targets}_poolctl_enter({inputs})\n"

# Every copy's code object: ``is_copy`` tells them from the originals.
_copies = set()


def parameters(function):
    """The names of ``function``'s parameters, in order (``*args``/``**kwargs`` included)."""
    return _parameters(function.__code__)


def _parameters(code):
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)  # *args, **kwargs
    return code.co_varnames[:count]


def is_copy(function):
    """Whether ``function`` is a copy ``instrument`` made."""
    return getattr(function, "__code__", None) in _copies


def instrument(owner, name, enter, inputs, outputs=(), around=True):
    """Replace ``owner.<name>`` by an instrumented copy of it (in the class defining it).

    The copy first runs ``enter(*inputs)`` (parameter names). With ``around``, ``enter``
    returns ``(call, *outputs)``: ``call`` None, or an object whose ``failed(exc)`` is called
    when the body raises and ``exit()`` when it ends; without, it returns the ``outputs``
    alone. The parameters named in ``outputs`` are replaced by what ``enter`` returned.
    """
    defining = next(c for c in owner.__mro__ if name in c.__dict__)
    original = defining.__dict__[name]
    copy = _copy(original, enter, inputs, outputs, around)
    setattr(defining, name, copy)
    return original


def _copy(original, enter, inputs, outputs, around):
    code = original.__code__
    lines = linecache.getlines(code.co_filename, original.__globals__)
    if not lines:
        raise LookupError("no source for %s" % original.__qualname__)
    owner = original.__qualname__.split(".")[-2]
    method = _method_node(lines, code, owner)
    if _compiled(method, owner, code, original.__globals__).co_code != code.co_code:
        raise LookupError("the source of %s is not the code running" % original.__qualname__)
    targets = ("_poolctl_call",) + tuple(outputs) if around else tuple(outputs)
    assigned = ", ".join(targets) + ("," if len(targets) == 1 else "") + " = " if targets else ""
    hook = (_AROUND if around else _BEFORE).format(targets=assigned, inputs=", ".join(inputs))
    statements = private.syntax_tree(hook, code.co_filename).body
    for statement in statements:
        _place(statement, method.lineno)
    if around:
        statements[-1].body = method.body
        method.body = statements
    else:
        method.body = statements + method.body
    copied = _compiled(method, owner, code, original.__globals__)
    _check_same_parameters(copied, code)
    function = types.FunctionType(
        copied, original.__globals__, original.__name__, original.__defaults__,
        _closure(copied, original, enter),
    )  # fmt: skip
    function.__kwdefaults__ = original.__kwdefaults__
    function.__qualname__ = original.__qualname__
    function.__doc__ = original.__doc__
    function.__dict__.update(original.__dict__)
    annotations = getattr(original, "__annotations__", None)
    if annotations:
        function.__annotations__ = annotations
    _copies.add(copied)
    return function


def _method_node(lines, code, owner):
    """The method's definition, parsed where it stands in its file (its own lines and
    columns), inside a class of its own class's name (private names are mangled alike)."""
    first = code.co_firstlineno
    end = _last_line(lines, first)
    indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
    # The class line goes right above the definition, at column 0 (the method is indented).
    text = "\n" * (first - 2) + "class %s:\n" % owner + "".join(lines[first - 1 : end])
    if indent == 0:
        raise LookupError("%s is not a method" % code.co_name)
    tree = private.syntax_tree(text, code.co_filename)
    method = tree.body[0].body[0]
    if method.name != code.co_name or method.lineno != first:
        raise LookupError("%s is not at line %d of its file" % (code.co_name, first))
    return method


def _last_line(lines, first):
    """The last line of the block that starts at line ``first``: the lines after it that are
    blank or indented deeper."""
    indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
    last = first
    for number in range(first + 1, len(lines) + 1):
        line = lines[number - 1]
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) <= indent and not line.lstrip().startswith((")", "]")):
            break
        last = number
    return last


def _compiled(method, owner, code, namespace):
    """The code object of ``method`` compiled as its module compiled it: in a class named
    ``owner`` (private names mangled alike) whose name stays a global, among the module's
    imports (3.12+ compiles a method call on an imported module differently). All of it
    sits in a function whose parameter is the hook, so the copy holds the hook in a cell;
    none of it ever runs."""
    imported = sorted(n for n, v in namespace.items() if isinstance(v, types.ModuleType))
    outer = "def _poolctl_outer(%s):\n global %s\n class %s:\n  pass\n" % (_ENTER, owner, owner)
    if imported:
        outer = "import %s\n" % ", ".join(imported) + outer
    module = private.syntax_tree(outer, code.co_filename)
    module.body[-1].body[-1].body = [method]
    found = compile(module, code.co_filename, "exec", dont_inherit=True)
    for name in ("_poolctl_outer", owner, code.co_name):
        found = next(
            c for c in found.co_consts if isinstance(c, types.CodeType) and c.co_name == name
        )
    if hasattr(found, "co_qualname"):  # 3.11+: as the original's (profilers show it)
        found = found.replace(co_qualname=code.co_qualname)
    return found


def _place(node, line):
    """Give ``node`` and everything in it the position ``line``, column 0 (poolctl's hook
    code has no place in the file; it never raises, so no traceback points at it)."""
    if private.has_position(node):
        node.lineno = node.end_lineno = line
        node.col_offset = node.end_col_offset = 0
    for child in private.syntax_children(node):
        _place(child, line)


def _check_same_parameters(copied, code):
    same = (
        _parameters(copied) == _parameters(code)
        and copied.co_argcount == code.co_argcount
        and getattr(copied, "co_posonlyargcount", 0) == getattr(code, "co_posonlyargcount", 0)
        and copied.co_kwonlyargcount == code.co_kwonlyargcount
        and copied.co_flags & 0x0C == code.co_flags & 0x0C
    )
    if not same:
        raise LookupError("the copy of %s takes other parameters" % code.co_name)


def _closure(copied, original, enter):
    """The copy's cells: the hook, and the original's own (``__class__`` for ``super()``)."""
    own = dict(zip(original.__code__.co_freevars, original.__closure__ or ()))
    cells = []
    for name in copied.co_freevars:
        if name == _ENTER:
            cells.append(types.CellType(enter))
        else:
            cells.append(own[name])
    return tuple(cells)


__all__ = ("instrument", "is_copy", "parameters")
