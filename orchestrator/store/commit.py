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
  elseif c.held then
    local p = redis.call('XPENDING', c.held, c.group, c.entry, c.entry, 1)
    if #p == 0 or p[1][2] ~= c.consumer then return {0, i, 'taken over'} end
  elseif c.budget then
    local spent = tonumber(redis.call('HGET', c.budget, 'spent') or '0')
    local limit = tonumber(redis.call('HGET', c.budget, 'budget') or '0')
    if spent + tonumber(c.add) > limit + 1e-9 then return {0, i, tostring(spent)} end
  end
end
-- Every chain is written with the key its last event has, or moved from an older one
-- (`older`) by a rotation event the process sealed: refuse before writing anything if
-- not, answering with the chain's head (seq, key).
for _, h in ipairs(spec.heads) do
  local at = redis.call('HMGET', h.chain .. ':head', 'seq', 'kid')
  local kid = at[2] or ''
  if tonumber(at[1] or '0') > 0 and kid ~= h.kid then
    local older = false
    for _, o in ipairs(h.older or {}) do if o == kid then older = true end end
    if not (older and h.rotation) then return {2, h.chain, (at[1] or '0') .. '\\n' .. kid} end
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
-- Link each event (sealed by the process, or unsealed without a key) to its chain.
local heads, order = {}, {}
local function head_of(chain)
  local head = heads[chain]
  if not head then
    local at = redis.call('HMGET', chain .. ':head', 'hash', 'seq', 'kid')
    head = {hash = at[1] or '', seq = tonumber(at[2] or '0'), kid = at[3] or ''}
    heads[chain] = head
    order[#order + 1] = chain
  end
  return head
end
local function append(chain, index, body, seal, kid)
  local head = head_of(chain)
  local entry = {seq = head.seq + 1, prev = head.hash, body = body}
  local text = entry.prev .. '\\n' .. entry.seq .. '\\n' .. body
  if seal then
    entry.seal = seal
    text = text .. '\\n' .. seal
  end
  entry.hash = redis.sha1hex(text)
  head.seq, head.hash, head.kid = entry.seq, entry.hash, kid
  redis.call('RPUSH', chain, cjson.encode(entry))
  if index ~= '' then redis.call('RPUSH', index, entry.seq) end
end
for _, h in ipairs(spec.heads) do
  local head = head_of(h.chain)
  if h.rotation and head.seq > 0 and head.kid ~= h.kid then
    append(h.chain, '', h.rotation.body, h.rotation.seal, h.kid)
  end
end
for _, ev in ipairs(spec.events) do
  append(ev.chain, ev.index, ev.body, ev.seal, ev.kid or '')
end
local reply = {}
for _, chain in ipairs(order) do
  local head = heads[chain]
  redis.call('HSET', chain .. ':head', 'hash', head.hash, 'seq', head.seq, 'kid', head.kid)
  reply[#reply + 1] = chain .. '\\n' .. head.seq .. '\\n' .. head.hash .. '\\n' .. head.kid
end
return {1, 0, table.concat(reply, '\\n')}
"""

OTHER_KEY = 2
"""The script's answer when a chain's last event has another key than the commit's."""


TAKEN_OVER = "the job was taken over by another worker"


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

    def held(self, stream: str, group: str, entry: str, consumer: str) -> Commit:
        """Refuse unless `consumer` still holds the job `entry` of `stream`: the fencing
        token of a job's commits (a worker whose job was taken over commits nothing)."""
        spec = {"held": stream, "group": group, "entry": entry, "consumer": consumer}
        self.checks.append(Check(spec, stream, reason=TAKEN_OVER))
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
        """Append an event (its JSON without seq, prev and hash, which the script adds;
        a store that holds an audit key seals it first) to the chain `chain`, and its
        number to the outcome's `index` if any."""
        self.events.append({"chain": chain, "index": index, "body": body})
        return self

    @property
    def chains(self) -> list[dict[str, str]]:
        """The chains this commit's events go to, unsealed (no key)."""
        return [
            {"chain": chain, "kid": ""} for chain in dict.fromkeys(e["chain"] for e in self.events)
        ]

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
                "heads": sealed.heads if sealed else self.chains,
                "events": sealed.events if sealed else self.events,
            },
            option=orjson.OPT_NON_STR_KEYS,
        )
