"""The indexes of standing outcomes' cases, as the core reads them: the open and done
sorted sets of each outcome (`Keys.cases_open`, `Keys.cases_done`) and each case
source's poll cursor (`Keys.case_cursor`). Cases themselves change through commits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from orchestrator.store.keys import Keys


@dataclass(frozen=True)
class CaseCounts:
    """A standing outcome's cases by where they stand, read in one round trip."""

    done: int
    within: int
    """Done within the SLA."""
    open: int
    overdue: int
    """Open and past their due time."""
    failed: int


class CaseIndex:
    """Reads of the case indexes, and the poll cursors of case sources."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def counts(self, outcome_id: str, sla_s: float, now: float) -> CaseCounts:
        """How many of the outcome's cases are done (within `sla_s`), open, overdue at
        `now` (epoch seconds) and failed: one pipelined read, in the outcome's slot."""
        done_key, open_key = self._keys.cases_done(outcome_id), self._keys.cases_open(outcome_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcard(done_key)
        pipe.zcount(done_key, 0, sla_s)
        pipe.zcard(open_key)
        pipe.zcount(open_key, "-inf", f"({now}")
        pipe.hget(self._keys.outcome(outcome_id), "cases_failed")
        done, within, still_open, overdue, failed = await pipe.execute()
        return CaseCounts(
            done=int(done),
            within=int(within),
            open=int(still_open),
            overdue=int(overdue),
            failed=int(float(failed or 0)),
        )

    async def done_seconds_at(self, outcome_id: str, rank: int) -> float | None:
        """The seconds to done of the case at `rank` (0: the fastest); None past the last."""
        found = await self._redis.zrange(
            self._keys.cases_done(outcome_id), rank, rank, withscores=True
        )
        return float(found[0][1]) if found else None

    async def open_cases(self, outcome_id: str, limit: int) -> list[str]:
        """The ids of up to `limit` of the outcome's unfinished cases, soonest due first."""
        found: Any = await self._redis.zrange(self._keys.cases_open(outcome_id), 0, limit - 1)
        return [_text(raw) for raw in found]

    async def cursor(self, workspace: str, source: str) -> Any | None:
        """Where polling `source` resumes (None before its first rows)."""
        raw = await self._redis.get(self._keys.case_cursor(workspace, source))
        return json.loads(raw) if raw else None

    async def save_cursor(self, workspace: str, source: str, cursor: Any) -> None:
        """Resume polling `source` after `cursor` (kept as JSON; dates as text)."""
        text = json.dumps(cursor, default=str)
        await self._redis.set(self._keys.case_cursor(workspace, source), text)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
