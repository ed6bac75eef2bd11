"""Every Redis key Baton uses, in one place, under a configurable prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "baton"

    def outcome(self, outcome_id: str) -> str:
        return f"{self.prefix}:outcome:{outcome_id}"

    def step(self, step_id: str) -> str:
        return f"{self.prefix}:step:{step_id}"

    def approval(self, approval_id: str) -> str:
        return f"{self.prefix}:approval:{approval_id}"

    def outcomes_of(self, workspace: str) -> str:
        return f"{self.prefix}:ws:{workspace}:outcomes"

    def workspaces(self) -> str:
        return f"{self.prefix}:workspaces"

    def steps_of(self, outcome_id: str) -> str:
        return f"{self.prefix}:outcome:{outcome_id}:steps"

    def tick_aggregates(self, outcome_id: str) -> str:
        """What a tick keeps of steps older than those it reads (`RedisStore.tick_snapshot`)."""
        return f"{self.prefix}:outcome:{outcome_id}:tick"

    def pinned_steps(self, outcome_id: str) -> str:
        """Older steps a tick still reads: unfinished or rejected ones."""
        return f"{self.prefix}:outcome:{outcome_id}:steps:pinned"

    def measurements(self, outcome_id: str) -> str:
        return f"{self.prefix}:outcome:{outcome_id}:measurements"

    def pending_approvals(self, workspace: str) -> str:
        return f"{self.prefix}:ws:{workspace}:approvals:pending"

    def kill_switch(self, workspace: str) -> str:
        return f"{self.prefix}:ws:{workspace}:paused"

    def audit(self, workspace: str) -> str:
        return f"{self.prefix}:audit:{workspace}"

    def audit_index(self, outcome_id: str) -> str:
        return f"{self.prefix}:audit:outcome:{outcome_id}"

    def audit_base(self, workspace: str) -> str:
        """Where a chain's Redis part starts: the seq and link hash of its last event moved
        to the history store (absent while none was)."""
        return f"{self.audit(workspace)}:base"

    def measurements_archived(self, outcome_id: str) -> str:
        """How many of an outcome's measurements were moved to the history store."""
        return f"{self.prefix}:outcome:{outcome_id}:measurements:archived"

    def archive(self) -> str:
        """The archive's last run: when it ended and what it moved (its lag, for `/metrics`)."""
        return f"{self.prefix}:history:archive"

    def intake(self, conversation_key: str) -> str:
        return f"{self.prefix}:intake:{conversation_key}"

    def sequence(self, kind: str) -> str:
        return f"{self.prefix}:seq:{kind}"

    def lease(self, subject: str) -> str:
        return f"{self.prefix}:lease:{subject}"

    def dedupe(self, key: str) -> str:
        return f"{self.prefix}:dedupe:{key}"

    def rate(self, workspace: str, user: str, window: int) -> str:
        """Messages one person sent in one rate-limit window."""
        return f"{self.prefix}:ws:{workspace}:rate:{user}:{window}"

    def jobs(self) -> str:
        return f"{self.prefix}:jobs"

    def dead_letters(self) -> str:
        return f"{self.prefix}:jobs:dead"

    def timers(self) -> str:
        return f"{self.prefix}:timers"

    def timer_jobs(self) -> str:
        return f"{self.prefix}:timers:jobs"

    def notices(self, workspace: str) -> str:
        return f"{self.prefix}:ws:{workspace}:notices"

    def flag(self, name: str) -> str:
        return f"{self.prefix}:flag:{name}"

    def case(self, case_id: str) -> str:
        return f"{self.prefix}:case:{case_id}"

    def cases_open(self, outcome_id: str) -> str:
        """A sorted set of a standing outcome's unfinished cases, scored by due time."""
        return f"{self.prefix}:outcome:{outcome_id}:cases:open"

    def cases_done(self, outcome_id: str) -> str:
        """A sorted set of a standing outcome's done cases, scored by seconds to done."""
        return f"{self.prefix}:outcome:{outcome_id}:cases:done"

    def case_cursor(self, workspace: str, source: str) -> str:
        return f"{self.prefix}:ws:{workspace}:cases:{source}:cursor"

    def slack_installation(self, team: str) -> str:
        """A Slack team's (or an org's) installation: its bot token, encrypted."""
        return f"{self.prefix}:ws:{team}:slack:installation"

    def slack_oauth_state(self, state: str) -> str:
        """An OAuth install in progress: the state Slack's redirect must bring back."""
        return f"{self.prefix}:slack:oauth:state:{state}"
