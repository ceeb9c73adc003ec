"""The standard library's private names: reached only through ``stdlib_private``, and each
of its accessors still resolves on every interpreter at hand."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import poolctl
from conftest import every_python, require

SUBJECT_ROOT = Path(poolctl.__file__).parent / "subject"
SUBJECT = SUBJECT_ROOT / "poolctl_subject"
# The one module allowed to name them.
HOME = "stdlib_private.py"
# The subject's own attributes, which it sets on the standard library's objects.
OWN_MARK = "_poolctl"
# Names the standard library neither documents nor marks private.
UNDOCUMENTED = frozenset({"mapstar", "starmapstar"})


def _private(name: str) -> bool:
    if name.startswith(OWN_MARK) or not name.strip("_"):
        return False
    if name in UNDOCUMENTED:
        return True
    dunder = name.startswith("__") and name.endswith("__") and len(name) > 4
    return name.startswith("_") and not dunder


class _Reaches(ast.NodeVisitor):
    """Finds every place a module reaches a private name of something not its own.

    Its own: the subject's modules (names bound by a relative import) and, in a method of
    a class the module defines, that method's first parameter (``self``, ``cls``), in the
    method and the functions nested in it, unless one of them rebinds the name. A function
    that is not such a method (a patched method, for one) has no ``self`` of its own.
    Caught besides ``x._name``: the name in a string (``getattr(x, "_name")``,
    ``vars(x)["_name"]``), as a keyword (``setattr`` through ``**``), and in an import.
    """

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []
        self._modules: set[str] = set()
        self._scopes: list[dict[str, bool]] = []
        self._in_class = False

    def _own(self, node: ast.expr) -> bool:
        if not isinstance(node, ast.Name):
            return False
        for scope in reversed(self._scopes):
            if node.id in scope:
                return scope[node.id]
        return node.id in self._modules

    def _flag(self, node: ast.AST, what: str) -> None:
        self.found.append((getattr(node, "lineno", 0), what))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in node.decorator_list + node.bases + node.keywords:
            self.visit(child)
        outer, self._in_class = self._in_class, True
        for child in node.body:
            self.visit(child)
        self._in_class = outer

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        arguments = node.args
        positional = [a.arg for a in arguments.posonlyargs + arguments.args]
        names = positional + [a.arg for a in arguments.kwonlyargs]
        names += [a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None]
        scope = dict.fromkeys(names, False)
        static = any(
            isinstance(d, ast.Name) and d.id == "staticmethod"
            for d in getattr(node, "decorator_list", [])
        )
        if self._in_class and positional and not static:
            scope[positional[0]] = True
        for child in getattr(node, "decorator_list", []):
            self.visit(child)
        self.visit(arguments)
        outer, self._in_class = self._in_class, False
        self._scopes.append(scope)
        for child in node.body if isinstance(node.body, list) else [node.body]:
            self.visit(child)
        self._scopes.pop()
        self._in_class = outer

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.startswith("poolctl_subject"):
                self._modules.add(alias.asname or alias.name.split(".")[0])
            elif any(_private(part) for part in alias.name.split(".")):
                self._flag(node, "import " + alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        own = node.level > 0 or (node.module or "").startswith("poolctl_subject")
        for alias in node.names:
            if own:
                self._modules.add(alias.asname or alias.name)
            elif _private(alias.name) or any(
                _private(part) for part in (node.module or "").split(".")
            ):
                self._flag(node, f"from {node.module} import {alias.name}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _private(node.attr) and not self._own(node.value):
            self._flag(node, "." + node.attr)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        text = node.value
        if isinstance(text, str) and re.fullmatch(r"\w+", text) and _private(text):
            self._flag(node, repr(text))

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg is not None and _private(node.arg):
            self._flag(node, node.arg + "=")
        self.generic_visit(node)


def reaches(source: str) -> list[tuple[int, str]]:
    """(line, what) for each private name of the standard library ``source`` reaches."""
    finder = _Reaches()
    finder.visit(ast.parse(source))
    return finder.found


def test_only_stdlib_private_reaches_private_names() -> None:
    """Every other subject module reaches the standard library's private names through it."""
    modules = sorted(SUBJECT.glob("*.py"))
    assert len(modules) > 10 and (SUBJECT / HOME).exists()
    found = {
        path.name: reaches(path.read_text())
        for path in modules
        if path.name != HOME and reaches(path.read_text())
    }
    assert found == {}


@pytest.mark.parametrize(
    "source",
    [
        "def f(pool):\n    return pool._pool",
        "def f(p):\n    return getattr(p, '_processes', None)",
        "def f(p):\n    return vars(p)['_ctx']",
        "from concurrent.futures import _base",
        "import concurrent.futures._base",
        "from concurrent.futures._base import Future",
        "import runpy\nrunpy._run_module_as_main('m')",
        "def f(process):\n    return process._popen.returncode",
        "def f(module):\n    return module.mapstar",
        "def f(cls, m):\n    setattr(cls, **{}, _map_async=m)",
        # A patched method: its 'self' is a pool, not one of the subject's objects.
        "def patch(cls):\n    def init(self):\n        return self._ctx\n    cls.__init__ = init",
        # A nested function rebinding the method's 'self'.
        "class A:\n    def f(self):\n        def g(self):\n            return self._pool\n"
        "        return g",
        "class A:\n    @staticmethod\n    def f(self):\n        return self._pool",
    ],
)
def test_the_finder_catches_a_private_reach(source: str) -> None:
    assert reaches(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "class A:\n    def f(self):\n        return self._x + (lambda: self._y)()",
        "class A:\n    @classmethod\n    def f(cls):\n        return cls._x",
        "from . import channel\nchannel._directory",
        "from . import stdlib_private as private\nprivate.pool_workers(p)",
        "def f(pool):\n    pool._poolctl = 1\n    return hasattr(pool, '_poolctl')",
        "def f(e):\n    return e.__traceback__, type(e).__name__",
        "x = {'__exit__': 'with-exit'}",
    ],
)
def test_the_finder_passes_the_subjects_own_names(source: str) -> None:
    assert reaches(source) == []


# --- each accessor on each interpreter ----------------------------------------------------

# Runs under each interpreter: exercises every accessor on real objects, prints what held.
PROBE = r"""
import functools, json, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import multiprocessing
import multiprocessing.pool as mpool
import concurrent.futures.process as cfp
import concurrent.futures.thread as cft
from poolctl_subject import stdlib_private as p

checks = {}

def check(name, test):
    try:
        checks[name] = bool(test())
    except Exception as exc:
        checks[name] = "%s: %s" % (type(exc).__name__, exc)

if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    pool = ctx.Pool(1)
    pending = pool.apply_async(time.sleep, (0.2,))
    check("result_pool", lambda: p.result_pool(pending) is pool)
    check("apply_result_pending", lambda: p.apply_result_pending(pending)
          and pending.get(5) is None and not p.apply_result_pending(pending))
    slow = pool.imap(time.sleep, [0.2])
    check("imap_pending", lambda: p.imap_pending(slow) and next(slow, 1) is None
          and not p.imap_pending(slow))
    worker = p.pool_workers(pool)[0]
    check("pool_workers", lambda: worker.pid > 0 and len(p.pool_workers(pool)) == 1)
    check("pool_start_method", lambda: p.pool_start_method(pool) == "fork")
    check("POOL_MAP_ASYNC", lambda: callable(vars(mpool.Pool)[p.POOL_MAP_ASYNC]))
    check("is_plain_map", lambda: p.is_plain_map(mpool.mapstar, mpool)
          and not p.is_plain_map(mpool.starmapstar, mpool))
    generated = []

    def recording(generate):
        def generation(self, job, func, iterable):
            for task in generate(self, job, func, iterable):
                generated.append(task[2])
                yield task
        return generation

    p.wrap_pool_task_generation(mpool.ThreadPool, recording)  # inherits Pool's: left alone
    p.wrap_pool_task_generation(mpool.Pool, recording)
    check("wrap_pool_task_generation", lambda: pool.map(abs, [-1, -2], 1) == [1, 2]
          and list(pool.imap(abs, [-3])) == [3]
          and generated == [mpool.mapstar, mpool.mapstar, abs]
          and "_guarded_task_generation" not in vars(mpool.ThreadPool))
    running_code = p.process_returncode(worker)
    handler = p.pool_worker_handler(pool)
    check("pool_worker_handler", lambda: handler.is_alive())
    pending.get(5)
    pool.close()
    closed = []
    try:
        p.pool_check_running(pool)
    except ValueError:
        closed.append(True)
    check("pool_check_running", lambda: closed == [True])
    pool.join()
    check("process_returncode", lambda: running_code is None
          and p.process_returncode(worker) == 0)
    check("pool_worker_handler", lambda: checks["pool_worker_handler"] is True
          and not handler.is_alive())

    submitted = []

    class Recording(cfp.ProcessPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            submitted.append(fn)
            return super().submit(fn, *args, **kwargs)

    executor = Recording(1, mp_context=ctx)
    before = p.executor_manager_thread(executor)
    future = executor.submit(abs, -1)
    manager = p.executor_manager_thread(executor)
    check("executor_manager_thread", lambda: before is None and manager.is_alive())
    waited = executor.submit(time.sleep, 0.2)
    check("future_pending", lambda: p.future_pending(waited) and waited.result(5) is None
          and not p.future_pending(waited))
    check("future_class", lambda: isinstance(future, p.future_class()) and future.result(5) == 1)
    check("executor_workers", lambda: len(p.executor_workers(executor)) == 1)
    check("executor_start_method", lambda: p.executor_start_method(executor) == "fork")
    check("is_map_chunk", lambda: list(executor.map(abs, [-2])) == [2]
          and p.is_map_chunk(submitted[-1], cfp) and not p.is_map_chunk(abs, cfp)
          and not p.is_map_chunk(abs, cft))
    executor.shutdown()
    check("executor_manager_thread", lambda: checks["executor_manager_thread"] is True
          and not manager.is_alive())

    threads = cft.ThreadPoolExecutor(2)
    threads.submit(time.sleep, 0.05).result(5)
    started = p.thread_executor_workers(threads)
    check("thread_executor_workers", lambda: len(started) == 1
          and all(t.is_alive() for t in started))
    threads.shutdown(wait=True)
    check("thread_executor_workers", lambda: checks["thread_executor_workers"] is True
          and p.thread_executor_workers(threads) is started
          and not any(t.is_alive() for t in started))

    # InterpreterPoolExecutor's hooks (3.14+; the names do not exist before, nor are used).
    if sys.version_info >= (3, 14):
        from concurrent.futures import InterpreterPoolExecutor
        interpreters = InterpreterPoolExecutor(1)
        contexts, resolved = [], []
        create = p.executor_context_factory(interpreters)
        resolve = p.executor_task_resolver(interpreters)

        def creating():
            contexts.append(create())
            return contexts[-1]

        def resolving(fn, args, kwargs):
            resolved.append(resolve(fn, args, kwargs))
            return resolved[-1]

        p.set_executor_hooks(interpreters, creating, resolving)
        check("set_executor_hooks", lambda: interpreters.submit(abs, -3).result(10) == 3
              and len(contexts) == 1 and resolved == [(abs, (-3,), {})])
        for name in ("executor_context_factory", "executor_task_resolver"):
            check(name, lambda: checks["set_executor_hooks"] is True)
        check("context_interpreter", lambda: p.context_interpreter(contexts[0]).exec("1") is None)
        interpreters.shutdown()
    else:
        for name in ("executor_context_factory", "executor_task_resolver",
                     "set_executor_hooks", "context_interpreter"):
            checks[name] = True

    import importlib
    from multiprocessing import context, reduction

    def launchers():
        for module, cls, method in p.LAUNCHERS:
            function = getattr(getattr(importlib.import_module(module), cls), method)
            assert function.__code__.co_varnames[:2] == ("self", "process_obj")
        return True

    check("LAUNCHERS", launchers)

    def spawning_now():
        context.set_spawning_popen(object())
        try:
            return p.spawning()
        finally:
            context.set_spawning_popen(None)

    check("spawning", lambda: not p.spawning() and spawning_now())
    reduced = []

    class Marked:
        pass

    def reduce_marked(obj):
        reduced.append(obj)
        return (Marked, ())

    check("register_forking_reducer", lambda: p.register_forking_reducer(Marked, reduce_marked)
          and not p.register_forking_reducer(Marked, reduce_marked)
          and type(reduction.ForkingPickler.loads(reduction.ForkingPickler.dumps(Marked())))
          is Marked and len(reduced) == 1)

    def missing():
        try:
            p.check_main_module("poolctl_no_such_module")
        except p.runpy_error() as exc:
            return "No module named" in str(exc)
        return False

    import threading
    lock = p.new_lock()
    check("new_lock", lambda: lock.acquire(False) and not lock.acquire(False))
    check("get_ident", lambda: p.get_ident() == threading.get_ident())
    check("get_native_id", lambda: p.get_native_id() == threading.get_native_id())
    local = p.thread_local()
    local.x = 1
    check("thread_local", lambda: isinstance(local, threading.local) and local.x == 1)
    ran = []
    p.start_thread(lambda: ran.append(threading.get_ident()))
    deadline = time.monotonic() + 10
    while not ran and time.monotonic() < deadline:
        time.sleep(0.01)
    check("start_thread", lambda: ran and ran[0] != threading.get_ident())
    escaper = p.json_string_escaper()
    check("json_string_escaper", lambda: (escaper is None and hasattr(sys, "pypy_version_info"))
          or json.loads(escaper("\u00e9\"\n\U0001F600")) == "\u00e9\"\n\U0001F600")
    from importlib.machinery import SourceFileLoader
    check("source_file_loader", lambda: p.source_file_loader() is SourceFileLoader)

    def handed_over():
        import concurrent.futures._base
        for module, cls, method, position, holds in p.EXCEPTION_HANDOVERS:
            function = getattr(getattr(sys.modules[module], cls), method)
            code = function.__code__
            assert position < code.co_argcount and holds in ("traceback", "exception", "outcome")
        return True

    check("EXCEPTION_HANDOVERS", handed_over)

    class Duck:
        pass

    check("context_start_method", lambda: p.context_start_method(ctx) == "fork"
          and p.context_start_method(Duck()) is None)
    tree = p.syntax_tree("def f(x):\n    return x\n", "<probe>")
    check("syntax_tree", lambda: tree.body[0].body[0].lineno == 2)
    check("syntax_children", lambda: p.syntax_children(tree) == tree.body
          and len(p.syntax_children(tree.body[0].body[0])) == 1)
    check("has_position", lambda: p.has_position(tree.body[0]) and not p.has_position(tree))

    import sysconfig
    check("gil_enabled", lambda: p.gil_enabled()
          is (not sysconfig.get_config_var("Py_GIL_DISABLED")))
    def caller():
        return p.caller_frame(1).f_code.co_name

    def probe_frames():
        return p.caller_frame(0).f_code.co_name == "probe_frames" and caller() == "probe_frames"

    check("caller_frame", probe_frames)
    check("runpy_error", lambda: issubclass(p.runpy_error(), Exception))
    check("check_main_module", lambda: p.check_main_module("poolctl_probe_main") is None
          and missing())
    print(json.dumps(checks), flush=True)
    p.run_module_as_main("poolctl_probe_main")  # prints the last line
"""
MAIN_MODULE = "import sys\nprint('ran as ' + __name__ + ' ' + sys.argv[0])\n"


def _interpreters() -> list[tuple[str, str | None]]:
    return [*every_python(), ("this", sys.executable)]


def _exported() -> set[str]:
    """``stdlib_private.__all__``, read without importing the subject here."""
    tree = ast.parse((SUBJECT / HOME).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__":
            return set(ast.literal_eval(node.value))
    raise AssertionError("stdlib_private has no __all__")


@pytest.mark.parametrize(("name", "python"), _interpreters(), ids=lambda v: str(v))
def test_every_accessor_resolves(tmp_path: Path, name: str, python: str | None) -> None:
    """Each name ``stdlib_private`` exports works on real pools under this interpreter."""
    python = require(name, python)
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "poolctl_probe_main.py").write_text(MAIN_MODULE)
    run = subprocess.run(
        [python, "-I", str(tmp_path / "probe.py"), str(SUBJECT_ROOT), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    checks = json.loads(lines[0])
    assert set(checks) | {"run_module_as_main"} == _exported()
    assert {k: v for k, v in checks.items() if v is not True} == {}
    assert lines[1] == f"ran as __main__ {tmp_path / 'poolctl_probe_main.py'}"
