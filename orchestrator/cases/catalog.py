"""The workspace's case sources and case playbooks: what standing outcomes run on.

A case source yields cases: new rows of a SQL query past a cursor, or signed events
posted to `POST /hooks/<source>`. A case playbook is the sequence of steps every case
of its source goes through; a step needs a person only when its condition holds.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CaseSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CaseSource(CaseSpec):
    """Where cases come from."""

    kind: Literal["sql", "webhook"]
    description: str = ""
    """What one case is, in plain words ("a signed contract")."""
    synonyms: tuple[str, ...] = ()
    """Words an owner uses for these cases ("new customer", "contract")."""
    id: str = "id"
    """The row column or event field that identifies a case within its source."""
    at: str = ""
    """A column or field with the case's own ISO time (its SLA counts from there)."""
    connection: str = ""
    """sql: the connection to query."""
    query: str = ""
    """sql: a read-only query for rows past `:cursor`, in cursor order."""
    cursor: str = "id"
    """sql: the column whose last value seen is the cursor."""
    start: Any = 0
    """sql: the cursor before the first row."""
    every_s: float = Field(default=30.0, gt=0)
    """sql: seconds between polls."""
    secret: str = ""
    """webhook: the `${ENV_VAR}` holding the HMAC-SHA256 key events are signed with."""
    signature_header: str = "X-Baton-Signature"

    @model_validator(mode="after")
    def _kind_needs(self) -> CaseSource:
        if self.kind == "sql" and not (self.connection and self.query):
            raise ValueError("a sql case source needs connection and query")
        if self.kind == "webhook" and "${" not in self.secret:
            raise ValueError("a webhook case source needs secret, a ${ENV_VAR} reference")
        return self


class Condition(CaseSpec):
    """A test on one field of the case: `{field: non_standard_terms, op: "==", value: true}`."""

    field: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    value: bool | float | str


class CasePlayStep(CaseSpec):
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    approve_when: Condition | None = None
    """The step waits for a person only when this holds for the case."""


class CasePlaybook(CaseSpec):
    """The steps every case of `source` goes through, and how its outcome is measured."""

    source: str
    metric: str
    """The derived metric (declared under `metrics` with `cases: <source>`)."""
    description: str = ""
    rationale: str = ""
    steps: tuple[CasePlayStep, ...]
    target_share: float = Field(default=95.0, gt=0, le=100)
    """The share of cases that must be done within the SLA, in percent."""
    remind_at: float = Field(default=0.5, gt=0, lt=1)
    """Remind in the channel when a case has used this share of its SLA."""
    escalate_at: float = Field(default=0.8, gt=0, lt=1)
    """Escalate to on-call and page when a case has used this share of its SLA."""
    check_every_h: float = Field(default=1.0, gt=0)
    """Hours between measurements of the outcome."""


def check_references(
    sources: dict[str, CaseSource],
    playbooks: dict[str, CasePlaybook],
    *,
    connections: set[str],
    actions: set[str],
    derived: dict[str, str],
) -> list[tuple[str, str]]:
    """(where, what) for every reference that points nowhere; `derived` maps metric to source."""
    problems = [
        (f"case_sources.{name}.connection", f"unknown connection {s.connection!r}")
        for name, s in sources.items()
        if s.kind == "sql" and s.connection not in connections
    ]
    for name, book in playbooks.items():
        if book.source not in sources:
            problems.append((f"case_playbooks.{name}.source", f"unknown source {book.source!r}"))
        if derived.get(book.metric) != book.source:
            problems.append(
                (f"case_playbooks.{name}.metric", f"needs a metric with cases: {book.source}")
            )
        problems += [
            (f"case_playbooks.{name}.steps.{i}.action", f"unknown action {step.action!r}")
            for i, step in enumerate(book.steps)
            if step.action not in actions
        ]
    return problems
