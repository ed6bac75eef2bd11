"""Reading a metric per entity through its connection's connector.

The metric's `entity_query` names `:ids`; it is expanded to one bound parameter per id
(`:ids_0, :ids_1, ...`), so ids are never written into the statement, on SQLite and
PostgreSQL alike. Ids are read in chunks to keep statements a sane size.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from orchestrator.connectors import Connector
from orchestrator.errors import ConnectorError
from orchestrator.learning.holdout import EntityId
from orchestrator.workspace.catalog import Metric

CHUNK = 500
_IDS = re.compile(r":ids\b")


def expand(query: str, ids: Sequence[EntityId]) -> tuple[str, dict[str, EntityId]]:
    """The query with `:ids` as one placeholder per id, and their values."""
    names = [f"ids_{i}" for i in range(len(ids))]
    listed = ", ".join(f":{name}" for name in names) or "NULL"
    return _IDS.sub(listed, query), dict(zip(names, ids, strict=True))


async def read_entities(
    connector: Connector, metric: Metric, ids: Sequence[EntityId]
) -> dict[str, float]:
    """Each entity's value by its id as text; an entity the query does not return is left
    out (it is not counted as zero)."""
    values: dict[str, float] = {}
    for start in range(0, len(ids), CHUNK):
        query, params = expand(metric.entity_query, ids[start : start + CHUNK])
        for row in await connector.fetch(query=query, params=params):
            if "id" not in row or "value" not in row:
                raise ConnectorError("metric", "an entity query must return id and value")
            if row["value"] is not None:
                values[str(row["id"])] = float(row["value"])
    return values


async def read_total(connector: Connector, metric: Metric) -> float | None:
    """How many entities the metric is over; None when it is a sum of their values."""
    if not metric.entity_total:
        return None
    rows = await connector.fetch(query=metric.entity_total, params={})
    value = next(iter(rows[0].values())) if rows and rows[0] else None
    return float(value) if value is not None else None


def in_order(values: dict[str, float], ids: Sequence[EntityId]) -> list[float]:
    return [values[str(e)] for e in ids if str(e) in values]
