"""Module hops: how many times a reader following three flows of Baton moves between modules.

    python -m bench.hops [--level module|package] [--top N] [--json] [--hops]
                         [--redis-url redis://127.0.0.1:6379/0]

Uses the server named with `--redis-url` or `BATON_BENCH_REDIS_URL` (never `REDIS_URL`),
writing and deleting only keys under its own prefix; otherwise an embedded Redis in a
temporary directory.

Each flow runs in this process on a started test harness of its own
(`tests.conftest.build_harness`: the demo workspace and its CRM, a manual clock, a recording
chat gateway, the playbook planner; no model), through Baton's public entry points:

- click: Alice approves the pending approval of a confirmed outcome (`Conversation.on_click`)
  and the worker drains what the decision queued (the notice, the step's execution).
- tick: the first tick of a just-confirmed outcome, with its plan still to make, handled by
  the worker (`Runtime.drain`: measure, plan, govern, commit) until nothing is left.
- statement: Olivia states an outcome (`Conversation.on_message`), intake runs, she clicks
  Confirm, and the worker drains until its first tick and what that queued are done.

Only the measured part is traced. Set-up is not, nor a first run of the same flow on another
harness just before, which does the first-use work (lazy imports, caches) of the process.

Definition of the figures:

- A project frame is a Python frame whose code file lies inside the directory of one of the
  packages `bot`, `handlers`, `orchestrator`, `config` as imported; tests/, bench/, the
  standard library and site-packages are not project code. Its module is the `__name__` of
  the frame's globals (the file's path under the packages' parent when there is none); its
  function is that module with the code's qualified name, a comprehension or generator
  expression counting as the function it is written in.
- The current function follows calls and returns as `sys.setprofile` reports them (in the
  event loop's thread, and in the threads `asyncio.to_thread` uses while measuring): a call
  of a project frame makes that frame's function current; a return from a project frame
  makes current the nearest project frame under it on the stack (its caller, or the project
  code that called the library that called it), and none when there is none (a coroutine
  suspending to the event loop, a flow's step returning to this script). Other frames
  (libraries, this script) change nothing: they are transparent.
- Each asyncio task, callback and `to_thread` call has its own current function, starting
  from the one current where it was created (asyncio copies context variables into them): a
  task started by project code starts from the function that started it, and tasks running
  side by side are not interleaved into one sequence.
- A hop is a change of current function from A to B where A's module is not B's. The same
  (A -> B) counts once, when it first occurs, whether by a call or a return: it approximates
  a reader following the code rather than a loop executing it. B -> A is another hop.
- hops: distinct (A -> B) hops. modules: distinct project modules ever current.
  returns: distinct hops whose B's module had already been left (was the A module of an
  earlier hop) when they first occurred.
- `--level package` counts the same way with each module replaced by its package, the
  concept it belongs to: `orchestrator.<package>` for a module in a subpackage of the core
  (`orchestrator.store.keys` -> `orchestrator.store`), a flat module of the core as its own
  unit (`orchestrator.loop` before the core was split into packages, `orchestrator.models`),
  `bot.<sub>` for a module in a subpackage of bot/ (`bot.slack`, `bot.teams`, `bot.demo`), and
  `bot`, `handlers`, `config` for their flat modules. A hop is then a change of current
  function between two packages: a call from `store.keys` into `store.commit` is none.
- `--top N` lists, per flow, the N units with the most hops in or out of them (a hop counts
  for both of its ends), which says where the hops come from.

The tool runs on the layout before the core was split into packages too (the tick's job
kind is `orchestrator.loop.TICK_JOB` there, `orchestrator.runtime.messages.Tick.KIND`
after): copy this file into that tree's bench/ and run it there.

With the manual clock and the playbook planner the figures are the same on every run. The
order of first occurrences listed by `--hops` can differ a little between runs where the
worker's gathered acknowledgements (sent on their own after 20 ms) interleave with a job.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import CodeType, FrameType

from redis.asyncio import Redis

from bench import target
from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace
from handlers.cards import Click
from orchestrator.store.embedded import EmbeddedRedis
from orchestrator.store.keys import Keys
from tests.conftest import CHANNEL, Harness, build_harness

PACKAGES = ("bot", "handlers", "orchestrator", "config")
"""Baton's own packages: only frames of their code are followed."""

OWNER = "olivia"
APPROVER = "alice"
STATEMENT = "Reduce monthly churn from 8% to 5% by 31 March"
"""For the demo workspace: its churn_rate metric, answered without a question."""

LOOK_BACK_S = 1.1
"""The worker looks for abandoned jobs at most once a second (`Worker._look_back`): waiting
this long before a measured part makes its first read look, on every run alike."""

FOLDED = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"})
"""Code objects of their own before Python 3.12 (and generator expressions still): counted
as the function that holds them."""

Function = tuple[str, str]
"""(module, qualified name)."""

LEVELS = ("module", "package")
"""What a hop crosses: a module, or a package (`unit`)."""

Part = Callable[[], Awaitable[object]]
"""The measured part of a flow."""

_HERE: ContextVar[tuple[object, Function] | None] = ContextVar("hops_here", default=None)
"""The current project function of this task, callback or thread call, tagged with the
measurement it belongs to."""


@dataclass(frozen=True)
class Figures:
    flow: str
    level: str
    hops: int
    modules: int
    """Distinct units (modules, or packages at the package level) ever current."""
    returns: int
    top: tuple[tuple[str, int], ...] = ()
    """The units with the most hops in or out of them, most first."""


def unit(module: str, level: str) -> str:
    """What `module` counts as at `level`: itself, or its package (see the docstring)."""
    if level == "module":
        return module
    parts = module.split(".")
    if parts[0] == "orchestrator" or len(parts) > 2:
        return ".".join(parts[:2])
    return parts[0]


def tick_kind() -> str:
    """The tick job's kind on the wire, in the layout being measured."""
    try:
        messages = importlib.import_module("orchestrator.runtime.messages")
    except ImportError:  # before the core was split into packages
        kind = importlib.import_module("orchestrator.loop").TICK_JOB
    else:
        kind = messages.Tick.KIND
    if not isinstance(kind, str):
        raise SystemExit(f"tick: the tick job's kind is not a string: {kind!r}")
    return kind


@dataclass
class _Count:
    level: str
    seen: dict[tuple[Function, Function], bool] = field(default_factory=dict)
    """Each distinct hop, in the order of first occurrence: whether it re-entered a unit
    already left."""
    left: set[str] = field(default_factory=set)
    entered: set[str] = field(default_factory=set)
    units: dict[str, str] = field(default_factory=dict)
    """Each module's unit at this level, once worked out."""

    def unit(self, module: str) -> str:
        found = self.units.get(module)
        if found is None:
            found = self.units[module] = unit(module, self.level)
        return found

    def land(self, before: Function | None, function: Function) -> None:
        """The current function became `function`, coming from `before`."""
        there = self.unit(function[0])
        self.entered.add(there)
        if before is None or (before, function) in self.seen:
            return
        here = self.unit(before[0])
        if here == there:
            return
        self.seen[(before, function)] = there in self.left
        self.left.add(here)

    def figures(self, flow: str, top: int) -> Figures:
        touched: dict[str, int] = {}
        for a, b in self.seen:
            for end in (self.unit(a[0]), self.unit(b[0])):
                touched[end] = touched.get(end, 0) + 1
        ranked = sorted(touched.items(), key=lambda item: (-item[1], item[0]))[:top]
        return Figures(
            flow,
            self.level,
            len(self.seen),
            len(self.entered),
            sum(self.seen.values()),
            tuple(ranked),
        )

    def listed(self) -> list[str]:
        return [
            f"{a[0]}.{a[1]} -> {b[0]}.{b[1]}{'  (re-enters)' if back else ''}"
            for (a, b), back in self.seen.items()
        ]


Measured = dict[str, tuple[Figures, list[str]]]
"""One flow's figures and hops (in order of first occurrence), per level."""


class Tracer:
    """Follows project frames through one awaited part at a time (`measure`)."""

    def __init__(self, packages: Sequence[str] = PACKAGES) -> None:
        dirs = [Path(_file_of(name)).parent for name in packages]
        self._dirs = tuple(f"{directory}{os.sep}" for directory in dirs)
        self._roots = {f"{directory}{os.sep}": directory.parent for directory in dirs}
        self._known: dict[int, tuple[CodeType, Function | None]] = {}
        self._lock = threading.Lock()
        self._run: object | None = None
        self._counts = [_Count(level) for level in LEVELS]

    async def measure(self, flow: str, part: Part, *, top: int = 10) -> Measured:
        """Run `part` traced; per level, its figures and its hops in order of first
        occurrence."""
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(thread_name_prefix="hops")
        loop.set_default_executor(pool)  # new threads: started with the profiler on
        self._counts = [_Count(level) for level in LEVELS]
        self._run = object()
        _HERE.set(None)
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)
        try:
            await part()
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
            self._run = None
            loop.set_default_executor(ThreadPoolExecutor())
            pool.shutdown(wait=True)
        return {count.level: (count.figures(flow, top), count.listed()) for count in self._counts}

    def _profile(self, frame: FrameType, event: str, arg: object) -> None:
        if self._run is None:
            return
        if event == "call":
            function = self._function(frame)
            if function is not None:
                self._land(function)
        elif event == "return" and self._function(frame) is not None:
            self._land(self._under(frame.f_back))

    def _under(self, frame: FrameType | None) -> Function | None:
        """The nearest project function from `frame` down the stack."""
        while frame is not None:
            function = self._function(frame)
            if function is not None:
                return function
            frame = frame.f_back
        return None

    def _land(self, function: Function | None) -> None:
        here = _HERE.get()
        before = here[1] if here is not None and here[0] is self._run else None
        if function == before:
            return
        _HERE.set(None if function is None else (self._run, function))
        if function is None:
            return
        with self._lock:
            for count in self._counts:
                count.land(before, function)

    def _function(self, frame: FrameType) -> Function | None:
        code = frame.f_code
        known = self._known.get(id(code))
        if known is not None and known[0] is code:
            return known[1]
        function: Function | None = None
        if code.co_filename.startswith(self._dirs):
            name = frame.f_globals.get("__name__")
            module = name if isinstance(name, str) and name != "__main__" else None
            function = (module or self._module_of(code.co_filename), _qualified(code))
        self._known[id(code)] = (code, function)  # the code object kept: its id stays its own
        return function

    def _module_of(self, filename: str) -> str:
        root = next(self._roots[d] for d in self._dirs if filename.startswith(d))
        parts = list(Path(filename).relative_to(root).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _file_of(package: str) -> str:
    module = importlib.import_module(package)
    if module.__file__ is None:
        raise SystemExit(f"{package} is not a package with an __init__.py")
    return module.__file__


def _qualified(code: CodeType) -> str:
    name = code.co_qualname
    while name.rsplit(".", 1)[-1] in FOLDED:
        name = name.rsplit(".<locals>.", 1)[0] if ".<locals>." in name else "<module>"
    return name


async def click(harness: Harness) -> Part:
    """A confirmed outcome whose plan waits for an approval; measured: Alice approves."""
    await harness.state(OWNER, STATEMENT)
    approval = harness.gateway.buttons("approve")[-1]
    return lambda: harness.click(APPROVER, "approve", approval)


async def tick(harness: Harness) -> Part:
    """An outcome just confirmed, its first tick queued alone (the notice of its start
    delivered, the tick handed back to the stream); measured: the worker drains."""
    await harness.say(OWNER, STATEMENT)
    session = harness.gateway.buttons("confirm")[-1]
    await harness.conversation.on_click(Click(CHANNEL, OWNER, "confirm", session))  # not drained
    worker, queue = harness.runtime.worker, harness.runtime.ctx.queue
    jobs = await queue.read(worker.name, count=10)
    kind = tick_kind()
    if [job.kind for job in jobs].count(kind) != 1:
        raise SystemExit(f"tick: expected one tick queued by the confirmation, got {jobs}")
    for job in jobs:
        if job.kind == kind:
            await queue.release(job)
        else:
            await worker.handle(job)
    await worker.flush_acks()
    return harness.runtime.drain


async def statement(harness: Harness) -> Part:
    """Nothing yet; measured: the statement, its confirmation, the first tick, drained."""
    return lambda: harness.state(OWNER, STATEMENT)


FLOWS: dict[str, Callable[[Harness], Awaitable[Part]]] = {
    "click": click,
    "tick": tick,
    "statement": statement,
}


async def run(redis: Redis, flows: Sequence[str], top: int) -> list[Measured]:
    """Each flow once as a warm-up, then once measured, each on a harness of its own."""
    workspace = load_workspace(DEMO_WORKSPACE)
    tracer = Tracer()
    prefix = target.own_prefix("hops")
    results: list[Measured] = []
    with tempfile.TemporaryDirectory() as tmp:
        crm = Business(Path(tmp) / "crm.sqlite3")
        crm.create()
        try:
            for name in flows:
                for measured in (False, True):
                    run_id = f"{name}-{int(measured)}"
                    copy = Path(tmp) / f"{run_id}.sqlite3"
                    shutil.copy(crm.path, copy)
                    harness = build_harness(
                        redis, Keys(f"{prefix}:{run_id}"), workspace, Business(copy)
                    )
                    await harness.runtime.start()
                    try:
                        part = await FLOWS[name](harness)
                        await asyncio.sleep(LOOK_BACK_S)
                        if measured:
                            results.append(await tracer.measure(name, part, top=top))
                        else:
                            await part()
                    finally:
                        await harness.connectors.close()
        finally:
            await target.clear(redis, prefix)
    return results


async def main(url: str | None, flows: Sequence[str], top: int = 10) -> list[Measured]:
    if url:
        redis = Redis.from_url(url)
        try:
            return await run(redis, flows, top)
        finally:
            await redis.aclose()
    with tempfile.TemporaryDirectory() as tmp:
        embedded = EmbeddedRedis(Path(tmp))
        redis = Redis.from_url(await embedded.start())
        try:
            return await run(redis, flows, top)
        finally:
            await redis.aclose()
            await embedded.stop()


def report(
    results: Sequence[Measured],
    *,
    levels: Sequence[str] = ("module",),
    as_json: bool = False,
    hops: bool = False,
    top: bool = False,
) -> str:
    """The figures of each level asked for; with `hops` each flow's hops, with `top` the
    units most hops go in or out of."""
    chosen = [measured[level] for level in levels for measured in results]
    if as_json:
        rows = [
            {
                **{key: value for key, value in asdict(figures).items() if key != "top"},
                **({"top": [list(pair) for pair in figures.top]} if top else {}),
                **({"hop_list": listed} if hops else {}),
            }
            for figures, listed in chosen
        ]
        return json.dumps(rows, indent=2)
    lines = []
    for level in levels:
        units = f"{level}s"
        lines.append(
            f"{'flow':<10} {'hops':>5} {units:>8} {f'returns-to-a-{level}-already-left':>34}"
        )
        for figures, listed in (measured[level] for measured in results):
            lines.append(
                f"{figures.flow:<10} {figures.hops:>5} {figures.modules:>8} {figures.returns:>34}"
            )
            if top:
                lines.extend(f"    {count:>5}  {name}" for name, count in figures.top)
            if hops:
                lines.extend(f"    {hop}" for hop in listed)
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    parser.add_argument("--hops", action="store_true", help="list each flow's hops too")
    parser.add_argument(
        "--flow", action="append", choices=list(FLOWS), help="only this flow (repeatable)"
    )
    parser.add_argument(
        "--level",
        action="append",
        choices=LEVELS,
        help="count hops between modules (the default) or packages (repeatable)",
    )
    parser.add_argument(
        "--top", type=int, default=0, metavar="N", help="the N units with the most hops"
    )
    target.add_redis_option(parser, required=False)
    args = parser.parse_args()
    url = target.optional_redis_url(args.redis_url, os.environ)
    results = asyncio.run(main(url, args.flow or list(FLOWS), max(args.top, 1)))
    print(
        report(
            results,
            levels=args.level or ["module"],
            as_json=args.json,
            hops=args.hops,
            top=args.top > 0,
        )
    )
