"""The workspace's catalog: connections, metrics, actions, playbooks, policies, people.

These are the types; `config/workspace.py` loads them from the YAML file.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from orchestrator.models import Direction, Lane


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Connection(Spec):
    """A system Baton reads from or writes to."""

    kind: Literal["sql", "http", "smtp", "webhook", "chat"]
    url: str = ""
    """Database URL or base URL; may hold `${ENV_VAR}` references."""
    options: dict[str, Any] = Field(default_factory=dict)


class Metric(Spec):
    """A named number a connection can measure."""

    description: str = ""
    connection: str
    query: str
    """SQL returning one number (sql), or a path for http."""
    unit: Literal["percent", "count", "currency", "number", "minutes", "hours"] = "number"
    direction: Direction
    synonyms: tuple[str, ...] = ()
    format: str = "{:.2f}"

    def show(self, value: float) -> str:
        text = self.format.format(value)
        return f"{text}%" if self.unit == "percent" and not text.endswith("%") else text


class Parameter(Spec):
    """One parameter of an action (a small JSON-schema subset)."""

    type: Literal["integer", "number", "string", "boolean"] = "string"
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


class Action(Spec):
    """Something the business lets Baton do."""

    lane: Lane
    description: str
    connection: str | None = None
    function: str | None = None
    """Logic lane: the built-in deterministic function to run."""
    query: str | None = None
    statement: str | None = None
    """Systems lane (sql): a parameterized statement; never string-formatted."""
    for_each: str | None = None
    """Run the statement once per row of this output of the step depended on."""
    template: str | None = None
    """Intelligence lane: the draft template used without a model."""
    message: str | None = None
    """Chat lane: the message template."""
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    risk: Literal["low", "medium", "high"] = "low"
    cost: str | float = 0.0
    """A number, or a sandboxed template over `params` and `audience`."""
    reaches_customers: bool = False
    expected_impact: str = ""

    @model_validator(mode="after")
    def _lane_needs(self) -> Action:
        needs = {
            Lane.LOGIC: ("function",),
            Lane.INTELLIGENCE: ("template",),
            Lane.SYSTEMS: ("connection",),
        }.get(self.lane, ())
        missing = [name for name in needs if getattr(self, name) in (None, "")]
        if missing:
            raise ValueError(f"a {self.lane.value} action needs {', '.join(missing)}")
        if self.lane is Lane.SYSTEMS and not (self.statement or self.message):
            raise ValueError("a systems action needs a statement (sql) or a message (chat)")
        return self


class PlayStep(Spec):
    action: str
    params: dict[str, Any] = Field(default_factory=dict)


class Play(Spec):
    """A sequence of steps the playbook planner proposes together."""

    name: str
    rationale: str
    steps: tuple[PlayStep, ...]
    cooldown_days: float | None = None
    """Run again this long after it last finished; never again when unset."""


class Rule(Spec):
    """A deterministic policy rule; every condition given must hold for it to apply."""

    name: str
    decide: Literal["auto", "approve", "forbid"]
    action: str | None = None
    lane: Lane | None = None
    reaches_customers: bool | None = None
    cost_over: float | None = None
    audience_over: int | None = None
    risk_at_least: Literal["low", "medium", "high"] | None = None
    param: str | None = None
    op: Literal["<", "<=", ">", ">=", "==", "!="] | None = None
    value: float | str | None = None

    @model_validator(mode="after")
    def _param_complete(self) -> Rule:
        given = [self.param is not None, self.op is not None, self.value is not None]
        if any(given) and not all(given):
            raise ValueError("a parameter condition needs param, op and value together")
        return self


class Policy(Spec):
    default: Literal["auto", "approve", "forbid"] = "approve"
    rules: tuple[Rule, ...] = ()
    approval_timeout_h: float = 48.0
    on_timeout: Literal["deny", "approve"] = "deny"
    remind_after_h: float | None = None
    escalate_after_h: float | None = None
    budget: float = 0.0
    """Default budget per outcome when the owner names none."""
    max_steps_per_day: int = 20


class People(Spec):
    owner: str = ""
    approvers: tuple[str, ...] = ()
    on_call: tuple[str, ...] = ()
    """The escalation chain, first to last."""
    names: dict[str, str] = Field(default_factory=dict)
    """Display names by user id."""


class Workspace(Spec):
    """Everything one tenant declares."""

    name: str
    currency: str = "GBP"
    check_every_h: float = 24.0
    connections: dict[str, Connection] = Field(default_factory=dict)
    metrics: dict[str, Metric]
    actions: dict[str, Action] = Field(default_factory=dict)
    playbooks: dict[str, tuple[Play, ...]] = Field(default_factory=dict)
    policy: Policy = Policy()
    people: People = People()
    shadow: bool = False

    @model_validator(mode="after")
    def _references(self) -> Workspace:
        for metric_name, metric_spec in self.metrics.items():
            _need(
                metric_spec.connection in self.connections,
                f"metrics.{metric_name}.connection",
                f"unknown connection {metric_spec.connection!r}",
            )
        for name, action in self.actions.items():
            if action.connection is not None:
                _need(
                    action.connection in self.connections,
                    f"actions.{name}.connection",
                    f"unknown connection {action.connection!r}",
                )
        for metric, plays in self.playbooks.items():
            _need(metric in self.metrics, f"playbooks.{metric}", "unknown metric")
            for i, play in enumerate(plays):
                for j, step in enumerate(play.steps):
                    _need(
                        step.action in self.actions,
                        f"playbooks.{metric}.{i}.steps.{j}.action",
                        f"unknown action {step.action!r}",
                    )
        return self

    def display(self, user: str) -> str:
        return self.people.names.get(user, user)


def _need(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise ValueError(f"{where}: {what}")
