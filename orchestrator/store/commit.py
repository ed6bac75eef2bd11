"""One atomic compare-and-set for any number of records, with audit and side effects.

A `Commit` gathers checks (a record's status, a flag's absence, a budget), writes,
audit events and follow-up Redis operations (index updates, a job on the stream,
a timer). One Lua script applies all of it or none of it, so a transition, its
audit event and the work it causes can never be separated by a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from orchestrator.errors import TransitionRefused
from orchestrator.store.keys import SAME_SLOT, Keys, tag_of_key
from orchestrator.store.scripts import script_text

if TYPE_CHECKING:
    from orchestrator.store.audit_seal import Sealed

COMMIT_LUA = script_text("commit")
"""KEYS: every key the commit touches (`Commit.script`); ARGV[1]: the spec, naming them."""

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

    def script(self, keys: Keys, sealed: Sealed | None = None) -> tuple[list[str], bytes]:
        """The script's KEYS (every key the commit touches, each once) and its spec, which
        names them by their place in KEYS; `sealed`: the audit events sealed with a key.

        A key in the `SAME_SLOT` tag (a job, a timer, a counter) takes the tag of the
        commit's other keys, so the commit stays in one slot of a cluster."""
        heads = sealed.heads if sealed else self.chains
        events = sealed.events if sealed else self.events
        tag = _commit_tag(self._keys_named(heads, events))
        declared: dict[str, int] = {}

        def at(key: str) -> int:
            resolved = keys.resolve(key, tag)
            return declared.setdefault(resolved, len(declared) + 1)

        spec = {
            "checks": [_indexed(c.spec, at) for c in self.checks],
            "writes": [{**w, "key": at(w["key"])} for w in self.writes],
            "ops": [[op[0], at(str(op[1])), *op[2:]] for op in self.ops],
            "heads": [
                {**h, "chain": at(h["chain"]), "head": at(h["chain"] + ":head")} for h in heads
            ],
            "events": [
                {
                    **e,
                    "chain": at(e["chain"]),
                    "head": at(e["chain"] + ":head"),
                    "index": at(e["index"]) if e.get("index") else 0,
                }
                for e in events
            ],
        }
        argv = orjson.dumps(spec, option=orjson.OPT_NON_STR_KEYS)
        return list(declared), argv

    def _keys_named(self, heads: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[str]:
        named = [c.key for c in self.checks] + list(self.fields)
        named += [str(op[1]) for op in self.ops] + [h["chain"] for h in heads]
        return named + [e["chain"] for e in events]


CHECKED = ("key", "absent", "held", "budget")
"""The field of a check's spec that names its key."""


def _indexed(spec: dict[str, Any], at: Callable[[str], int]) -> dict[str, Any]:
    return {name: at(value) if name in CHECKED else value for name, value in spec.items()}


def _commit_tag(named: list[str]) -> str:
    """The hash tag of a commit's keys: the first one named ('' on a single server, or
    when every key goes with the commit)."""
    for key in named:
        tag = tag_of_key(key)
        if tag is not None and tag != SAME_SLOT:
            return tag
    return ""
