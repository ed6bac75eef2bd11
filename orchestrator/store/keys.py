"""Every Redis key Baton uses, in one place, under a configurable prefix; and the ids whose
records those keys hold, made and parsed here.

On a Redis Cluster (`Keys(tagged=True)`) every key of a workspace carries the workspace's
hash tag (`baton:{3fa9c1}:outcome:o12.3fa9c1`), so every script, pipeline and transaction
about one workspace touches one slot. The tag is a short hash of the workspace id (a
bucket: two workspaces may share one, never one workspace two), and a record's id carries
its tag after a dot, so a key is found from an id alone. The job stream, the timers and
the counters exist once per tag; a plain set (`tags`) lists the tags in use.

On a single server (`tagged=False`, the default) no key and no id carries a tag: the
layout is the one Baton always had, and a tag is the empty string everywhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SAME_SLOT = "\x00"
"""The tag of a key that goes with whatever else its commit touches (the job stream, the
timers, the counters of the commit's own tag): the store resolves it (`resolve`)."""

NO_WORKSPACE = "_"
"""On a cluster, the tag of the keys of work about no workspace (one slot, one stream)."""

TAG_BYTES = 3
"""A tag is this many bytes of a hash, in hex: 16.7 million buckets."""


def workspace_tag(workspace: str) -> str:
    """The hash tag of a workspace's keys on a cluster."""
    digest = hashlib.blake2b(workspace.encode(), digest_size=TAG_BYTES)
    return digest.hexdigest()


def tag_of_id(record_id: str) -> str:
    """The tag a record id carries ('' for an id made on a single server)."""
    _, dot, tag = record_id.rpartition(".")
    return tag if dot else ""


def number_of_id(record_id: str) -> int:
    """The sequence number in an id (`s12.3fa9c1` -> 12; 0 without one)."""
    digits = "".join(c for c in record_id.partition(".")[0] if c.isdigit())
    return int(digits or 0)


def tag_of_key(key: str) -> str | None:
    """The hash tag in `key` (None without one), as Redis Cluster reads it."""
    start = key.find("{")
    end = key.find("}", start + 1)
    if start < 0 or end <= start + 1:
        return None
    return key[start + 1 : end]


@dataclass(frozen=True)
class Keys:
    prefix: str = "baton"
    tagged: bool = False
    """Whether keys carry hash tags (a Redis Cluster)."""

    # Tags and ids ---------------------------------------------------------------------

    def tag(self, workspace: str) -> str:
        return workspace_tag(workspace) if self.tagged else ""

    def new_id(self, kind: str, number: int, workspace: str) -> str:
        """A record id: `o12`, or `o12.3fa9c1` with the workspace's tag on a cluster."""
        tag = self.tag(workspace)
        return f"{kind}{number}.{tag}" if tag else f"{kind}{number}"

    def _at(self, tag: str) -> str:
        """The prefix of a key with hash tag `tag` (none on a single server; on a cluster,
        work about no workspace has the tag `NO_WORKSPACE`)."""
        return f"{self.prefix}:{{{tag or NO_WORKSPACE}}}" if self.tagged else self.prefix

    def _by_id(self, record_id: str) -> str:
        return self._at(tag_of_id(record_id))

    def _by_ws(self, workspace: str) -> str:
        return self._at(self.tag(workspace))

    def resolve(self, key: str, tag: str) -> str:
        """`key` with a `SAME_SLOT` tag replaced by `tag` (the commit's own)."""
        return key.replace(f"{{{SAME_SLOT}}}", f"{{{tag or NO_WORKSPACE}}}")

    def tags(self) -> str:
        """The tags in use (a plain set): what workers read and the clock moves."""
        return f"{self.prefix}:tags"

    # Records and their indexes --------------------------------------------------------

    def outcome(self, outcome_id: str) -> str:
        return f"{self._by_id(outcome_id)}:outcome:{outcome_id}"

    def step(self, step_id: str) -> str:
        return f"{self._by_id(step_id)}:step:{step_id}"

    def approval(self, approval_id: str) -> str:
        return f"{self._by_id(approval_id)}:approval:{approval_id}"

    def approval_version(self, approval_id: str) -> str:
        """An approval's version: every writer of a pending approval checks and advances it."""
        return f"{self.approval(approval_id)}:version"

    def approval_vote(self, approval_id: str, person: str) -> str:
        """Set once `person` has decided an approval (a vote counts once)."""
        return f"{self.approval(approval_id)}:vote:{person}"

    def step_prefix(self, outcome_id: str) -> str:
        """What a step key of this outcome has before the step's id (same tag)."""
        return f"{self._by_id(outcome_id)}:step:"

    def kill_switch_parts(self, outcome_id: str) -> tuple[str, str]:
        """The kill switch key of this outcome's workspace, around the workspace id."""
        return f"{self._by_id(outcome_id)}:ws:", ":paused"

    def workspace_of_audit(self, chain: str) -> str:
        """The workspace whose audit chain is at key `chain`."""
        return chain.rpartition(":audit:")[2]

    def of_workspace(self, workspace: str, *parts: str) -> str:
        """A key about one workspace: `<prefix>:ws:<workspace>:<parts...>`."""
        return ":".join((f"{self._by_ws(workspace)}:ws:{workspace}", *parts))

    def outcomes_of(self, workspace: str) -> str:
        return self.of_workspace(workspace, "outcomes")

    def workspaces(self, tag: str = "") -> str:
        """The workspaces with outcomes (of one tag, on a cluster)."""
        return f"{self._at(tag)}:workspaces"

    def steps_of(self, outcome_id: str) -> str:
        return f"{self.outcome(outcome_id)}:steps"

    def tick_aggregates(self, outcome_id: str) -> str:
        """What a tick keeps of steps older than those it reads (`RedisStore.tick_snapshot`)."""
        return f"{self.outcome(outcome_id)}:tick"

    def pinned_steps(self, outcome_id: str) -> str:
        """Older steps a tick still reads: unfinished or rejected ones."""
        return f"{self.outcome(outcome_id)}:steps:pinned"

    def measurements(self, outcome_id: str) -> str:
        return f"{self.outcome(outcome_id)}:measurements"

    def pending_approvals(self, workspace: str) -> str:
        return self.of_workspace(workspace, "approvals", "pending")

    def learned_rules(self, workspace: str) -> str:
        """A workspace's learned policy rules: rule name -> the rule and who accepted it."""
        return self.of_workspace(workspace, "rules")

    def absences(self, workspace: str) -> str:
        """Who is away in a workspace: person -> absence."""
        return self.of_workspace(workspace, "away")

    def kill_switch(self, workspace: str) -> str:
        return self.of_workspace(workspace, "paused")

    def audit(self, workspace: str) -> str:
        return f"{self._by_ws(workspace)}:audit:{workspace}"

    def audit_index(self, outcome_id: str) -> str:
        return f"{self._by_id(outcome_id)}:audit:outcome:{outcome_id}"

    def audit_base(self, workspace: str) -> str:
        """Where a chain's Redis part starts: the seq and link hash of its last event moved
        to the history store (absent while none was)."""
        return f"{self.audit(workspace)}:base"

    def measurements_archived(self, outcome_id: str) -> str:
        """How many of an outcome's measurements were moved to the history store."""
        return f"{self.outcome(outcome_id)}:measurements:archived"

    def archive(self) -> str:
        """The archive's last run: when it ended and what it moved (its lag, for `/metrics`)."""
        return f"{self.prefix}:history:archive"

    def intake(self, key: str, workspace: str | None = None) -> str:
        """An intake session (`key`: its id), or a conversation's pointer to its session
        (`key`: the conversation's, `workspace`: the conversation's)."""
        tag = self.tag(workspace) if workspace is not None else tag_of_id(key)
        return f"{self._at(tag)}:intake:{key}"

    def sequence(self, kind: str) -> str:
        return f"{self.prefix}:seq:{kind}"

    def lease(self, subject: str) -> str:
        """A lease on `subject` (`step:<id>`, `outcome:<id>`, `clock`), in the slot of the
        record it names, so a commit can release it with the record's changes."""
        return f"{self._by_id(subject.rpartition(':')[2])}:lease:{subject}"

    def dedupe(self, key: str, workspace: str = "") -> str:
        """A mark that `key` was seen (in `workspace`'s slot, to go with its commits)."""
        return f"{self._at(self.tag(workspace))}:dedupe:{key}"

    def rate(self, workspace: str, user: str, window: int) -> str:
        """Messages one person sent in one rate-limit window."""
        return self.of_workspace(workspace, "rate", user, str(window))

    # The queue, per tag ---------------------------------------------------------------

    def jobs(self, tag: str = "") -> str:
        return f"{self._at(tag)}:jobs"

    def dead_letters(self, tag: str = "") -> str:
        return f"{self.jobs(tag)}:dead"

    def timers(self, tag: str = "") -> str:
        return f"{self._at(tag)}:timers"

    def timer_jobs(self, tag: str = "") -> str:
        return f"{self.timers(tag)}:jobs"

    def counters(self, tag: str = "") -> str:
        return f"{self._at(tag)}:metrics:counters"

    def notices(self, workspace: str) -> str:
        return self.of_workspace(workspace, "notices")

    def flag(self, name: str, tag: str = "") -> str:
        """A flag or counter; `tag`: in the slot of that tag's records (`tag_of`)."""
        return f"{self._at(tag)}:flag:{name}"

    def tag_of(self, record_id: str) -> str:
        """The tag of a record's keys ('' on a single server)."""
        return tag_of_id(record_id) if self.tagged else ""

    def case(self, case_id: str) -> str:
        return f"{self._by_id(case_id)}:case:{case_id}"

    def cases_open(self, outcome_id: str) -> str:
        """A sorted set of a standing outcome's unfinished cases, scored by due time."""
        return f"{self.outcome(outcome_id)}:cases:open"

    def cases_done(self, outcome_id: str) -> str:
        """A sorted set of a standing outcome's done cases, scored by seconds to done."""
        return f"{self.outcome(outcome_id)}:cases:done"

    def case_cursor(self, workspace: str, source: str) -> str:
        return self.of_workspace(workspace, "cases", source, "cursor")

    def metrics(self, name: str) -> str:
        """A hash or marker of `/metrics` about no workspace (`orchestrator.store.counters`)."""
        return f"{self._at('')}:metrics:{name}"

    def slack_installation(self, team: str) -> str:
        """A Slack team's (or an org's) installation: its bot token, encrypted."""
        return self.of_workspace(team, "slack", "installation")

    def slack_oauth_state(self, state: str) -> str:
        """An OAuth install in progress: the state Slack's redirect must bring back."""
        return f"{self._at('')}:slack:oauth:state:{state}"
