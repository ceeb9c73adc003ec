"""The documents poolctl returns, typed: what ``poolctl run --json`` and ``compare --json`` print.

These are ``TypedDict`` descriptions of plain JSON data: a document is a ``dict`` (it
can be dumped with ``json.dumps`` as it is), and a type checker knows its keys. Keys that
only some documents have are ``NotRequired``; an event's kind-specific fields are typed
loosely, since each kind brings its own (docs/api.md and the README list them).
"""

# No ``from __future__ import annotations``: TypedDict must see ``Required`` and
# ``NotRequired`` as objects to know which keys are required.
from typing import Any, Literal, NotRequired, Required, TypedDict

__all__ = [
    "Check",
    "CompareDocument",
    "CompareError",
    "CompareRow",
    "CompareRun",
    "Event",
    "Finding",
    "Interpreter",
    "Main",
    "Outcome",
    "OutputLine",
    "Pool",
    "Program",
    "RunDocument",
    "RunParams",
    "ScenarioInfo",
    "Site",
    "TaskCounts",
    "TaskRun",
    "TasksDetail",
    "Worker",
]

TaskStatus = Literal["completed", "interrupted", "never_started", "failed", "unknown"]


class Site(TypedDict):
    """Where the program made a call: its file, line and function (for a scenario, the
    program ``poolctl show NAME --code`` writes, in ``<poolctl show NAME --code>``)."""

    file: str
    line: int
    function: str


class Finding(TypedDict):
    """One thing that went wrong with a pool (docs/findings.md): its kind, the pool (None:
    the program), where, what happened in numbers, and what to do."""

    kind: str
    pool: int | None
    site: Site | None
    message: str
    counts: dict[str, int]
    remedy: str


class Event(TypedDict, total=False):
    """One thing a process of the run did, ``t`` seconds after the run began.

    ``kind`` says what (``task.started``, ``close.called``, ``worker.exited``...); the
    other keys depend on the kind (``task``, ``worker``, ``exit_code``, ``signal``...).
    """

    t: Required[float]
    pid: Required[int | None]
    role: Required[Literal["main", "worker", "observer"]]
    kind: Required[str]
    task: int
    worker: int
    pool: int
    exit_code: int | None
    signal: str | None
    site: Site | None  # pool.creating/created, task.submitted, <call>.called


class OutputLine(TypedDict):
    """A line a process printed; ``pid`` is None for output that bypassed the recorders."""

    t: float
    pid: int | None
    stream: Literal["stdout", "stderr"]
    text: str
    thread: NotRequired[str]
    cut: NotRequired[int]  # bytes of the line left out (each line keeps its first 16 KiB)
    omitted: NotRequired[dict[str, int]]  # a last entry: lines and bytes past the bounds


class TaskCounts(TypedDict):
    """How many tasks were submitted, started, and ended in each state."""

    submitted: int
    started: int
    completed: int
    interrupted: int
    never_started: int
    failed: int
    unknown: int  # submitted, no start seen, in a pool whose workers were not all seen


class TaskRun(TypedDict):
    """One task: when it was submitted, started and ended, on which worker, and how."""

    task: int
    submitted: float | None
    started: float | None
    ended: float | None
    worker: int | None
    pool: int | None
    status: TaskStatus


class Worker(TypedDict):
    """One worker: when it was spawned, ready and exited, and how it ended."""

    pid: int
    spawned: float | None
    ready: float | None
    exited: float | None
    exit_code: int | None  # negative: the signal that killed it
    signal: str | None  # e.g. "SIGTERM"
    thread: bool  # a ThreadPool's worker thread, not a process
    pool: int | None
    tasks: list[int]
    killed_by_poolctl: bool  # still there at the timeout


class Pool(TypedDict, total=False):
    """A pool the program created (``outcome.pools``; ``outcome.pool`` is the first)."""

    pool: int
    api: str | None  # "pool", "threadpool", "executor", "thread-executor"
    start_method: Required[str | None]
    size: Required[int | None]
    creating: Required[float | None]
    created: Required[float | None]
    site: Site | None  # where the program created it
    workers: list[int]
    tasks: TaskCounts


class Main(TypedDict, total=False):
    """The main process: its pid, how it exited, and an exception it did not catch."""

    pid: Required[int | None]
    exit_code: Required[int | None]
    signal: Required[str | None]
    finished: Required[bool]  # it printed past the pool program ("Main done")
    exited: float
    uncaught: dict[str, Any] | None  # poolctl trace: {"type", "message"}


class Outcome(TypedDict):
    """How the run ended, derived from its events alone."""

    pool: Pool
    pools: list[Pool]
    tasks: TaskCounts
    task_runs: list[TaskRun]
    error: dict[str, Any] | None  # {"type", "message", "step"} of the first error raised
    main: Main
    workers: list[Worker]
    hung: bool  # stopped at the timeout
    leftovers: list[dict[str, Any]]  # processes still there after the grace period
    wall_seconds: float | None
    shutdown_seconds: float | None  # from the first shutdown call to the last worker exit


class ScenarioInfo(TypedDict):
    """The scenario that was run (for a traced program: the program)."""

    name: str
    summary: str
    source: str
    steps: list[dict[str, Any]]  # {"step": name, ...its options}


class Program(TypedDict):
    """A traced program, as ``python`` was given it (``poolctl trace`` only)."""

    argv: list[str]
    path: str | None
    module: str | None
    name: str


class RunParams(TypedDict):
    """The parameters the run used, after defaults and overrides."""

    workers: int | None
    tasks: int
    duration: float | None
    start_method: str | None
    timeout: float


class Interpreter(TypedDict):
    """The interpreter the pool ran under."""

    executable: str
    version: str
    implementation: str
    free_threaded: NotRequired[bool]
    gil_enabled: NotRequired[bool]


class Platform(TypedDict):
    """The machine a run ran on."""

    system: str  # Linux, Darwin, Windows
    release: str  # the kernel's release
    machine: str  # x86_64, arm64, aarch64
    cpus: int


class Check(TypedDict):
    """One claim of the scenario's expectation, checked against the outcome."""

    claim: str
    expected: Any
    observed: Any
    ok: bool
    not_applicable: NotRequired[str]


class Problem(TypedDict):
    """One thing poolctl could not see (``channel-lost``, ``worker-silent``,
    ``observer-failed``), with the pool or process it concerns."""

    kind: str
    message: str
    pool: NotRequired[int]
    pid: NotRequired[int]
    count: NotRequired[int]


class Observation(TypedDict):
    """What poolctl could not see: ``complete`` unless ``problems`` lists any."""

    complete: bool
    problems: list[Problem]


class TasksDetail(TypedDict):
    """How many tasks' events a document keeps (a traced program: each pool's first
    ``bound``; the rest are counted, in ``tasks.counted`` events)."""

    bound: int | None  # None: every task kept (a scenario's run)
    kept: int  # tasks with an entry in the outcome's task_runs
    total: int  # every task the outcome counts


class RunInterrupted(TypedDict):
    """poolctl was stopped by ``signal`` at ``t``: the run was cut short, not hung."""

    signal: Literal["SIGINT", "SIGTERM", "SIGHUP"]
    t: float


class CompareInterrupted(TypedDict):
    """poolctl was stopped by ``signal`` after ``finished`` runs of ``total``."""

    signal: Literal["SIGINT", "SIGTERM", "SIGHUP"]
    finished: int
    total: int


class RunDocument(TypedDict):
    """A ``poolctl.run/1`` document: one observed run (``poolctl run --json``)."""

    schema: Literal["poolctl.run/1"]
    poolctl: str  # the version that made it
    scenario: ScenarioInfo
    program: NotRequired[Program]  # poolctl trace only
    params: RunParams
    python: Interpreter
    platform: NotRequired[Platform]  # absent from documents saved before it existed
    events: list[Event]
    output: list[OutputLine]
    outcome: Outcome
    observation: NotRequired[Observation]  # absent from documents saved before it existed
    tasks_detail: NotRequired[TasksDetail]  # absent from documents saved before it existed
    findings: NotRequired[list[Finding]]  # absent from documents saved before it existed
    interrupted: NotRequired[RunInterrupted]  # only when poolctl was stopped mid-run
    expected: dict[str, Any] | None  # None for a traced program
    checks: list[Check]
    races: list[dict[str, Any]]  # observed, never checked
    matches: bool | None  # every check holds; None for a traced program


class CompareRow(TypedDict, total=False):
    """One row of a compare: (scenario, start method, interpreter), over its repeats.

    ``observed`` holds distributions: value → how many runs saw it.
    """

    scenario: Required[str]
    source: str
    start_method: Required[str]
    python: Required[str]
    executable: str
    steps: list[str]
    runs: Required[int]
    observed_runs: int
    skipped: str | None
    matched: int
    incomplete: int  # runs not completely observed: no verdict
    hung: int
    unobserved: list[str]
    run_indexes: list[int]  # where its observed runs are in the document's runs
    observed: dict[str, dict[str, int]]
    failed_checks: dict[str, int]
    findings: dict[str, int]  # kind → how many over the row's runs
    not_applicable: dict[str, str]
    races: dict[str, dict[str, int]]
    shutdown_seconds: dict[str, float] | None
    deterministic: bool


class CompareError(TypedDict):
    """A run of the compare that could not be observed."""

    scenario: str
    start_method: str | None
    python: str
    message: str | None


class CompareDocument(TypedDict):
    """A ``poolctl.compare/1`` document: every run, and the table (``compare --json``)."""

    schema: Literal["poolctl.compare/1"]
    poolctl: str
    params: dict[str, Any]
    runs: list[RunDocument]
    errors: list[CompareError]
    interrupted: NotRequired[CompareInterrupted]  # only when stopped before every run ended
    summary: dict[str, Any]  # {"rows": [CompareRow...], "runs", "matched", "mismatched"...}


class CompareRun(TypedDict):
    """What ``compare``'s callbacks are given: one run of the matrix, as it starts or ends.

    ``document`` is None until it ends, and when it could not be observed (``error``
    says why) or was skipped (``skipped`` says why, e.g. the interpreter is too old).
    """

    label: str  # "close-join · fork · 3.12.3"
    index: int  # its place in the plan, 0 to total - 1
    total: int  # how many runs the compare makes
    document: RunDocument | None
    error: str | None
    skipped: str | None
