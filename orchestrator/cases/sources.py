"""Where cases come from: new rows of a SQL query past a cursor, and signed webhook events.

A SQL source is polled by a timer job that re-arms itself while a standing outcome takes
its cases; the cursor moves only after the rows are opened, so a crash replays rows,
and a replayed row is refused by the case's own create-once commit. A webhook event is
verified (HMAC-SHA256 of the raw body under the source's secret, `sha256=<hex>` in the
signature header, as Baton's own webhook connector signs) before anything is recorded.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from orchestrator.cases.catalog import CaseSource
from orchestrator.cases.run import Cases
from orchestrator.connectors.webhook import signature
from orchestrator.errors import BatonError
from orchestrator.models import Case, OutcomeStatus
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import PollCaseSource
from orchestrator.runtime.queue import Delivery
from orchestrator.workspace.secrets import expand


class BadEvent(BatonError):
    """A webhook event that is not a JSON object with the source's id field."""


def poll_timer(workspace: str, source: str) -> str:
    return f"poll:{workspace}:{source}"


async def poll(
    ctx: Context, cases: Cases, workspace: str, source: str, work: Delivery | None
) -> int:
    """The poll job (`work`): open a case per new row; returns how many were new."""
    spec = ctx.workspace_of(workspace).case_sources[source]
    owner = await cases.owner(source)
    if owner is None or owner.status is not OutcomeStatus.ACTIVE:
        return 0  # nobody stands on it now; the next standing tick polls again
    cursor = await ctx.store.cases.cursor(workspace, source)
    if cursor is None:
        cursor = spec.start
    rows = (
        await ctx.connectors_of(workspace)
        .get(spec.connection)
        .fetch(query=spec.query, params={"cursor": cursor})
    )
    opened = 0
    for row in rows:
        opened += await cases.open(source, str(row[spec.id]), row, work) is not None
        cursor = row[spec.cursor]
    if rows:
        await ctx.store.cases.save_cursor(workspace, source, cursor)
    due = ctx.clock.now() + timedelta(seconds=spec.every_s)
    poll_again = PollCaseSource(workspace=workspace, source=source)
    await ctx.queue.schedule(poll_timer(workspace, source), due, poll_again, workspace=workspace)
    return opened


def signed(spec: CaseSource, env: Mapping[str, str], body: bytes, header: str | None) -> bool:
    """The event's signature header is the HMAC-SHA256 of `body` under the source's secret."""
    secret = expand(spec.secret, env, where="case_sources secret")
    return header is not None and hmac.compare_digest(signature(secret, body), header)


async def receive(cases: Cases, source: str, spec: CaseSource, body: bytes) -> Case | None:
    """Open the case a verified event describes; `None` if seen before or nobody stands on it."""
    try:
        event: Any = json.loads(body)
    except ValueError:
        raise BadEvent("the body is not JSON") from None
    if not isinstance(event, dict) or event.get(spec.id) in (None, ""):
        raise BadEvent(f"the event needs a {spec.id!r} field")
    return await cases.open(source, str(event[spec.id]), event)
