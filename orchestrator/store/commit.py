"""One atomic compare-and-set for any number of records, with audit and side effects.

A `Commit` gathers checks (a record's status, a flag's absence, a budget), writes,
audit events and follow-up Redis operations (index updates, a job on the stream,
a timer). One Lua script applies all of it or none of it, so a transition, its
audit event and the work it causes can never be separated by a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from orchestrator.errors import TransitionRefused

if TYPE_CHECKING:
    from orchestrator.store.audit_seal import Sealed

COMMIT_LUA = """
local spec = cjson.decode(ARGV[1])
for i, c in ipairs(spec.checks) do
  if c.expect then
    local cur = redis.call('HGET', c.key, 'status') or ''
    local ok = false
    for _, e in ipairs(c.expect) do if e == cur then ok = true end end
    if not ok then return {0, i, cur} end
  elseif c.absent then
    if redis.call('EXISTS', c.absent) == 1 then return {0, i, 'present'} end
  elseif c.budget then
    local spent = tonumber(redis.call('HGET', c.budget, 'spent') or '0')
    local limit = tonumber(redis.call('HGET', c.budget, 'budget') or '0')
    if spent + tonumber(c.add) > limit + 1e-9 then return {0, i, tostring(spent)} end
  end
end
-- A process that sealed its audit entries (keyed) followed the heads it names: refuse
-- before writing anything if one moved, answering with the head found (seq, hash, key).
for _, h in ipairs(spec.heads) do
  local at = redis.call('HMGET', h.chain .. ':head', 'hash', 'seq', 'kid')
  if (at[1] or '') ~= h.hash or tonumber(at[2] or '0') ~= h.seq then
    return {2, h.chain, (at[2] or '0') .. '\\n' .. (at[1] or '') .. '\\n' .. (at[3] or '')}
  end
end
for _, w in ipairs(spec.writes) do
  redis.call('HSET', w.key, unpack(w.fields))
end
local allowed = {SADD=1, SREM=1, ZADD=1, ZREM=1, XADD=1, XACK=1, XDEL=1, RPUSH=1, HSET=1,
                 HDEL=1, HINCRBY=1, HINCRBYFLOAT=1, DEL=1, SET=1, INCRBY=1}
for _, op in ipairs(spec.ops) do
  if op[1] == 'RELEASE' then
    -- Release a lease only if this owner still holds it.
    if redis.call('GET', op[2]) == op[3] then redis.call('DEL', op[2]) end
  elseif not allowed[op[1]] then
    return redis.error_reply('commit: op not allowed ' .. op[1])
  else
    redis.call(unpack(op))
  end
end
local heads, order = {}, {}
for _, ev in ipairs(spec.events) do
  local head = heads[ev.chain]
  if not head then
    local at = ev.entry and {} or redis.call('HMGET', ev.chain .. ':head', 'hash', 'seq')
    head = {hash = at[1] or '', seq = tonumber(at[2] or '0')}
    heads[ev.chain] = head
    order[#order + 1] = ev.chain
  end
  local entry = ev.entry
  if entry then
    head.seq, head.hash, head.kid = ev.seq, ev.hash, ev.kid
  else
    local prev = head.hash
    head.seq = head.seq + 1
    head.hash = redis.sha1hex(prev .. '\\n' .. head.seq .. '\\n' .. ev.body)
    head.kid = ''
    entry = cjson.encode({seq = head.seq, prev = prev, hash = head.hash, body = ev.body})
  end
  redis.call('RPUSH', ev.chain, entry)
  if ev.index ~= '' then redis.call('RPUSH', ev.index, head.seq) end
end
for _, chain in ipairs(order) do
  local head = heads[chain]
  redis.call('HSET', chain .. ':head', 'hash', head.hash, 'seq', head.seq, 'kid', head.kid)
end
return {1, 0, ''}
"""

HEAD_MOVED = 2
"""The script's answer when a chain's head is not the one a sealed commit followed."""


@dataclass(frozen=True)
class Check:
    """One precondition; `reason` is what a refusal says."""

    spec: dict[str, Any]
    key: str
    expected: tuple[str, ...] = ()
    reason: str = ""


@dataclass
class Commit:
    """A unit of change, built up and then applied atomically by the store.

    Its parts apply in the order they were added, so one commit can carry several
    transitions of the same record (a step planned, then governed): a check on a record
    the commit already writes is decided here, against that write, since the script checks
    everything before it writes anything.
    """

    checks: list[Check] = field(default_factory=list)
    fields: dict[str, dict[str, str | float]] = field(default_factory=dict)
    """The fields this commit writes per record key, in the order records were first
    written; a record written again keeps its place and takes the later values."""
    ops: list[list[str | float | int]] = field(default_factory=list)
    events: list[dict[str, str]] = field(default_factory=list)
    applied: bool = False
    """Set by the store once the commit has applied."""

    def expect(self, key: str, *statuses: str) -> Commit:
        """Refuse unless the record at `key` has one of `statuses` ('' means absent)."""
        check = Check({"key": key, "expect": list(statuses)}, key, statuses)
        return self._check(check)

    def _check(self, check: Check) -> Commit:
        record = self.fields.get(check.key)
        if "expect" not in check.spec or record is None:
            self.checks.append(check)
            return self
        status = str(record["status"])
        if status not in check.expected:
            raise TransitionRefused(check.key, check.expected, status, check.reason)
        return self  # the check made before the first write of this record still holds

    def absent(self, key: str, reason: str) -> Commit:
        self.checks.append(Check({"absent": key}, key, reason=reason))
        return self

    def within_budget(self, outcome_key: str, cost: float) -> Commit:
        self.checks.append(
            Check({"budget": outcome_key, "add": cost}, outcome_key, reason="over budget")
        )
        return self

    def write(self, key: str, status: str, data: str, **extra: str | float) -> Commit:
        """Write a record; a record this commit already writes is written once, as last
        written (every write applies before any op, so the earlier one is never seen)."""
        self.fields.setdefault(key, {}).update({"status": status, "data": data, **extra})
        return self

    @property
    def written(self) -> dict[str, str]:
        """The status this commit writes per record key."""
        return {key: str(fields["status"]) for key, fields in self.fields.items()}

    @property
    def writes(self) -> list[dict[str, Any]]:
        """The writes as the script takes them: each record's key and its fields, flat."""
        return [
            {"key": key, "fields": [item for pair in fields.items() for item in pair]}
            for key, fields in self.fields.items()
        ]

    def op(self, *command: str | float | int) -> Commit:
        self.ops.append(list(command))
        return self

    def audit(self, chain: str, index: str, body: str) -> Commit:
        """Append an event (its JSON without seq, prev and hash, which the store adds
        when it seals the commit, else the script) to the hash chain `chain`, and its
        number to the outcome's `index` if any."""
        self.events.append({"chain": chain, "index": index, "body": body})
        return self

    def then(self, other: Commit) -> Commit:
        """Append `other`'s parts after this commit's own, as if added here in order."""
        for check in other.checks:
            self._check(check)
        for key, fields in other.fields.items():
            self.fields.setdefault(key, {}).update(fields)
        self.ops += other.ops
        self.events += other.events
        return self

    def to_json(self, sealed: Sealed | None = None) -> bytes:
        """The spec the script takes; `sealed`: the audit events sealed with a key."""
        return orjson.dumps(
            {
                "checks": [c.spec for c in self.checks],
                "writes": self.writes,
                "ops": self.ops,
                "heads": sealed.heads if sealed else [],
                "events": sealed.events if sealed else self.events,
            },
            option=orjson.OPT_NON_STR_KEYS,
        )
