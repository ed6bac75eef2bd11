"""The peer of bench/loop.py: Baton's loop as a LangGraph graph with its SQLite checkpointer.

measure -> plan -> govern -> execute, one invocation per outcome per step, each thread's
state (its step history included, as Baton's outcome keeps its steps) checkpointed by
`AsyncSqliteSaver` after every node, as LangGraph's durable execution does.
"""

from __future__ import annotations

import operator
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph

PLAYBOOK = ("find_at_risk",)
BUDGET = 100_000


class LoopState(TypedDict, total=False):
    """One outcome's loop state, checkpointed per thread."""

    outcome_id: str
    value: float
    """The metric's latest value."""
    proposal: str | None
    """The action the playbook proposes this step."""
    decision: str
    """What policy decided: auto, approve or forbid."""
    steps: Annotated[list[dict[str, Any]], operator.add]
    """Every executed step, appended (the history Baton's planner reads too)."""
    spent: int


def build(db: aiosqlite.Connection) -> StateGraph[LoopState]:
    async def measure(state: LoopState) -> LoopState:
        async with db.execute("SELECT value FROM metric") as cursor:
            row = await cursor.fetchone()
        return {"value": float(row[0]) if row else 0.0}

    async def plan(state: LoopState) -> LoopState:
        # The playbook planner: the first play that may run (cooldown 0: always).
        return {"proposal": PLAYBOOK[0]}

    async def govern(state: LoopState) -> LoopState:
        within = state.get("spent", 0) < BUDGET
        return {"decision": "auto" if state.get("proposal") and within else "forbid"}

    async def execute(state: LoopState) -> LoopState:
        query = "SELECT id AS customer_id FROM customers ORDER BY id LIMIT 5"
        async with db.execute(query) as cursor:
            rows = list(await cursor.fetchall())
        step = {"action": state["proposal"], "rows": len(rows), "at": time.time()}
        return {"steps": [step], "spent": state.get("spent", 0)}

    graph: StateGraph[LoopState] = StateGraph(LoopState)
    for name, node in (("measure", measure), ("plan", plan), ("govern", govern)):
        graph.add_node(name, node)
    graph.add_node("execute", execute)
    graph.add_edge(START, "measure")
    graph.add_edge("measure", "plan")
    graph.add_edge("plan", "govern")
    graph.add_conditional_edges(
        "govern", lambda s: "execute" if s["decision"] == "auto" else END, ["execute", END]
    )
    graph.add_edge("execute", END)
    return graph


async def langgraph_ms_per_step(
    directory: Path, metric_db: Path, steps: int, threads: int = 1000
) -> tuple[float, float]:
    """Milliseconds per loop step (one invocation), wall and CPU, sequential, in this
    process (the checkpointer's SQLite runs in-process, so its CPU time is counted)."""
    async with (
        aiosqlite.connect(metric_db) as db,
        AsyncSqliteSaver.from_conn_string(str(directory / "langgraph.sqlite")) as saver,
    ):
        app = build(db).compile(checkpointer=saver)
        warm = min(steps // 10, threads)
        for n in range(warm):
            await app.ainvoke({"outcome_id": f"o{n}"}, {"configurable": {"thread_id": f"o{n}"}})
        began, cpu = time.perf_counter(), time.process_time()
        for n in range(steps):
            thread = f"o{n % threads}"
            await app.ainvoke({"outcome_id": thread}, {"configurable": {"thread_id": thread}})
        wall = 1000 * (time.perf_counter() - began) / steps
        return wall, 1000 * (time.process_time() - cpu) / steps
