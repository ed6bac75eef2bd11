"""A metric read per entity through the sql connector, on SQLite and PostgreSQL: the ids
are bound parameters, missing entities are left out, and a step's effect is estimated
and translated into the outcome's metric."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from statistics import fmean

import pytest
from sqlalchemy import create_engine, text

from orchestrator.connectors import Connectors
from orchestrator.errors import ConnectorError
from orchestrator.learning import evidence, holdout, measure, verify
from orchestrator.models import Holdout, Lane, Step, StepStatus
from orchestrator.workspace.catalog import Policy, Workspace
from tests.conftest import START

CUSTOMERS = 400
TREATED_CHURN, CONTROL_CHURN = 0.05, 0.30


def _workspace(url: str) -> Workspace:
    return Workspace.model_validate(
        {
            "name": "entities",
            "connections": {"db": {"kind": "sql", "url": url}},
            "metrics": {
                "churn": {
                    "connection": "db",
                    "unit": "percent",
                    "direction": "decrease",
                    "query": "SELECT 100.0 * AVG(churned) FROM customers",
                    "entity_query": "SELECT id, churned AS value FROM customers WHERE id IN (:ids)",
                    "entity_total": "SELECT COUNT(*) FROM customers",
                }
            },
            "actions": {
                "nudge": {
                    "lane": "systems",
                    "description": "Nudge",
                    "connection": "db",
                    "for_each": "rows",
                    "statement": "SELECT 1",
                    "expected_impact": "fewer churn within 2 weeks",
                }
            },
        }
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        found = f"sqlite:///{tmp_path / 'entities.sqlite3'}"
        _fill(found)
        yield found
        return
    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TEST_POSTGRES_URL is not set")
    schema = f"baton_learning_{uuid.uuid4().hex[:8]}"
    found = base.replace("postgresql://", "postgresql+psycopg://", 1)
    found += ("&" if "?" in found else "?") + f"options=-csearch_path%3D{schema}"
    engine = create_engine(found)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    _fill(found)
    yield found
    engine = create_engine(found)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def _split() -> tuple[list[int | str], list[int | str]]:
    return holdout.assign("T1:o1:s1", list(range(1, 201)), 0.5, 4)


def plan_of(customer: int) -> str:
    return "pro" if customer % 3 == 0 else "basic"


def _fill(url: str) -> None:
    """400 customers; the first 200 were the audience: treated churned at 5%, control 30%."""
    rng = random.Random(3)
    treated, control = _split()
    churn = {**dict.fromkeys(treated, TREATED_CHURN), **dict.fromkeys(control, CONTROL_CHURN)}
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE customers (id INTEGER PRIMARY KEY, churned INTEGER, plan TEXT)")
        )
        for i in range(1, CUSTOMERS + 1):
            churned = int(rng.random() < churn.get(i, 0.1))
            conn.execute(
                text("INSERT INTO customers VALUES (:i, :c, :p)"),
                {"i": i, "c": churned, "p": plan_of(i)},
            )
    engine.dispose()


async def test_values_are_read_per_entity_with_bound_ids(url: str) -> None:
    workspace = _workspace(url)
    connectors = Connectors(workspace, {})
    try:
        metric = workspace.metrics["churn"]
        read = await measure.read_entities(connectors.get("db"), metric, [3, 7, 9999])
        assert set(read) == {"3", "7"}  # an unknown id is left out, not counted as zero
        try:  # a hostile id is a value: it matches nothing (SQLite) or is refused as one
            hostile = await measure.read_entities(connectors.get("db"), metric, ["1) OR (1=1"])
        except ConnectorError as error:
            assert "invalid input syntax" in str(error)
        else:
            assert hostile == {}
        many = await measure.read_entities(connectors.get("db"), metric, list(range(1, 1201)))
        assert len(many) == CUSTOMERS  # read in chunks
        assert await measure.read_total(connectors.get("db"), metric) == CUSTOMERS
    finally:
        await connectors.close()


async def test_a_steps_effect_is_estimated_and_translated(url: str) -> None:
    workspace = _workspace(url)
    connectors = Connectors(workspace, {})
    treated, control = _split()
    step = Step(
        id="s1", outcome_id="o1", workspace="T1", action="nudge", lane=Lane.SYSTEMS,
        created_at=START, status=StepStatus.SUCCEEDED, finished_at=START,
        holdout=Holdout(
            experiment="T1:o1:s1", key="id", share=0.5,
            treated=tuple(treated), control=tuple(control),
        ),
    )  # fmt: skip
    try:
        effect = await verify.measure(step, workspace, "churn", connectors, START, early=False)
    finally:
        await connectors.close()
    truth = TREATED_CHURN - CONTROL_CHURN
    assert effect.status == "measured" and effect.method == "difference of proportions"
    assert effect.low is not None and effect.high is not None
    assert effect.low < truth < effect.high
    assert effect.on_metric is not None and effect.metric_low is not None
    assert effect.per_entity is not None
    # In points of churn over the 400 customers, for the 100 treated.
    assert effect.on_metric == pytest.approx(effect.per_entity * 100 / CUSTOMERS * 100)
    assert effect.metric_low == pytest.approx(effect.low * 100 / CUSTOMERS * 100)
    assert verify.window(workspace.actions["nudge"]).days == 14


def test_an_entity_query_must_read_the_ids_it_is_given() -> None:
    spec = _workspace("sqlite://").model_dump()
    spec["metrics"]["churn"]["entity_query"] = "SELECT id, churned AS value FROM customers"
    with pytest.raises(ValueError, match=r"metrics\.churn\.entity_query"):
        Workspace.model_validate(spec)


async def test_an_effect_is_estimated_per_segment_and_enters_the_evidence(url: str) -> None:
    """An action naming a segment field: its rows' plans are recorded with the split, and
    the effect is estimated for each plan as well as overall, on SQLite and PostgreSQL."""
    workspace = _workspace(url)
    nudge = workspace.actions["nudge"].model_copy(update={"segment": "plan"})
    workspace = workspace.model_copy(update={"actions": {"nudge": nudge}})
    rows = [{"id": i, "plan": plan_of(i)} for i in range(1, 201)]
    step = Step(
        id="s1", outcome_id="o1", workspace="T1", action="nudge", lane=Lane.SYSTEMS,
        created_at=START,
    )  # fmt: skip
    _, held = holdout.split(step, nudge, workspace.model_copy(update={"policy": _half()}), rows)
    assert held is not None and held.segments == {str(r["id"]): r["plan"] for r in rows}
    assert (held.treated, held.control) == tuple(map(tuple, _split()))
    done = step.model_copy(
        update={"status": StepStatus.SUCCEEDED, "finished_at": START, "holdout": held}
    )
    connectors = Connectors(workspace, {})
    try:
        effect = await verify.measure(done, workspace, "churn", connectors, START, early=False)
    finally:
        await connectors.close()
    assert sorted(effect.segments) == ["basic", "pro"]
    churned = _churned(url)
    for plan, part in effect.segments.items():
        treated = [churned[int(e)] for e in held.treated if plan_of(int(e)) == plan]
        control = [churned[int(e)] for e in held.control if plan_of(int(e)) == plan]
        assert (part.treated, part.control, part.status) == (len(treated), len(control), "measured")
        assert part.per_entity == pytest.approx(fmean(treated) - fmean(control))
        assert part.low is not None and part.high is not None and part.per_entity is not None
        assert part.low < part.per_entity < part.high
    assert sum(p.treated for p in effect.segments.values()) == effect.treated
    pooled = evidence.pool(
        evidence.entries([done.model_copy(update={"incremental": effect})], "churn")
    )
    assert {k.segment for k in pooled} == {"", "basic", "pro"}
    assert all(e.runs == 1 for e in pooled.values())


def _churned(url: str) -> dict[int, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, churned FROM customers")).all()
    engine.dispose()
    return {int(r[0]): int(r[1]) for r in rows}


def _half() -> Policy:
    return Policy(holdout=0.5, holdout_min=4)
