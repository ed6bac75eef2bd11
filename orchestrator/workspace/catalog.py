"""The workspace's catalog: connections, metrics, actions, playbooks, policies, people.

These are the types; `config/workspace.py` loads them from the YAML file.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestrator.cases.catalog import CasePlaybook, CaseSource, check_references
from orchestrator.models import Direction, Lane
from orchestrator.workspace.formats import check_number_format


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HttpAuth(Spec):
    """How an http connection authenticates: a bearer token or a named header."""

    bearer: str = ""
    """`${ENV_VAR}` holding a token, sent as `Authorization: Bearer <token>`."""
    header: str = ""
    """A header name, for example `X-Api-Key`, sent with `value`."""
    value: str = ""
    """`${ENV_VAR}` holding the header's value."""

    @model_validator(mode="after")
    def _one_way(self) -> HttpAuth:
        if bool(self.bearer) == bool(self.header):
            raise ValueError("auth needs either bearer, or header with value")
        if self.header and not self.value:
            raise ValueError("auth.header needs a value")
        return self


class Connection(Spec):
    """A system Baton reads from or writes to."""

    kind: Literal["sql", "http", "smtp", "webhook", "chat"]
    url: str = ""
    """Database URL, base URL, `smtp://host:port` or webhook URL; may hold `${ENV_VAR}`."""
    options: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float = Field(default=10.0, gt=0)
    """Per call: connect, read and write each give up after this long."""
    retries: int = Field(default=1, ge=0, le=5)
    """Immediate reconnects when a connection cannot be opened (nothing was sent yet)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """http and webhook: headers on every request; values may hold `${ENV_VAR}`."""
    auth: HttpAuth | None = None
    tls: Literal["starttls", "tls", "none"] = "starttls"
    """smtp: STARTTLS on a plain port, implicit TLS, or none (local relays only)."""
    verify_tls: bool = True
    """smtp: check the server's certificate."""
    ca_file: str = ""
    """smtp: a PEM file of certificate authorities to trust instead of the system's, for a
    relay with a private or self-signed certificate; may hold `${ENV_VAR}`."""
    username: str = ""
    password: str = ""
    """smtp: a `${ENV_VAR}` reference, never a literal."""
    sender: str = ""
    """smtp: the From address when the draft names none."""
    secret: str = ""
    """webhook: the `${ENV_VAR}` holding the HMAC-SHA256 signing key."""
    signature_header: str = "X-Baton-Signature"
    allow_private: tuple[str, ...] = ()
    """http, webhook and smtp: networks (CIDR) this connection may reach although they are not
    public, for example `127.0.0.1/32`; any other loopback, private, link-local or cloud
    metadata address is refused, after redirects and DNS answers too."""

    @model_validator(mode="after")
    def _allowed_networks(self) -> Connection:
        for entry in self.allow_private:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"allow_private: {entry!r} is not a network") from None
        return self

    @model_validator(mode="after")
    def _url_usable(self) -> Connection:
        """A literal http or webhook URL the HTTP client cannot parse is refused here, with
        the connection's path, not at its first call (a `${ENV_VAR}` is checked when the
        connection opens)."""
        if self.kind in ("http", "webhook") and self.url and "${" not in self.url:
            problem = http_url_problem(self.url)
            if problem:
                raise ValueError(f"url {self.url!r} {problem}")
        return self

    @model_validator(mode="after")
    def _secrets_are_references(self) -> Connection:
        auth = self.auth or HttpAuth(bearer="${_}")
        for name, value in (
            ("password", self.password),
            ("secret", self.secret),
            ("auth.bearer", auth.bearer),
            ("auth.value", auth.value),
        ):
            if value and "${" not in value:
                raise ValueError(f"{name} must be a ${{ENV_VAR}} reference, not a literal")
        if self.kind == "webhook" and not self.secret:
            raise ValueError("a webhook connection needs a secret (a ${ENV_VAR} reference)")
        return self


def http_url_problem(url: str) -> str:
    """What keeps `url` from being an http(s) URL the HTTP client can call; "" if nothing."""
    try:
        parsed = httpx.URL(url)
        port = urlsplit(url).port  # httpx takes any number; a port is at most 65535
    except (httpx.InvalidURL, ValueError) as error:
        return f"cannot be used by the HTTP client ({error})"
    if parsed.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parsed.host:
        return "has no host"
    return "" if port is None or port > 0 else "has port 0"


class Metric(Spec):
    """A named number a connection can measure."""

    description: str = ""
    connection: str = ""
    query: str = ""
    """SQL returning one number (sql), or a JSON path into the response (http)."""
    cases: str = ""
    """Derived from this case source's cases (share done within SLA); no connection."""
    url: str = ""
    """http: the URL to GET, absolute or relative to the connection's; a sandboxed template."""
    unit: Literal["percent", "count", "currency", "number", "minutes", "hours"] = "number"
    direction: Direction
    synonyms: tuple[str, ...] = ()
    format: str = "{:.2f}"
    minimum: float | None = None
    """The lowest value the metric can take; default by unit: 0 for a percent, a count, an
    amount of money or a duration, none for a number. A target below it is refused."""
    maximum: float | None = None
    """The highest value it can take; default 100 for a percent, else none."""
    far_change: float = Field(default=10.0, gt=0)
    """A target that differs from the baseline by more than this many times the baseline
    is asked about ("did you mean ...?") instead of being proposed."""
    rows: str = ""
    """What one row of its data is, in the plural (`refunds`, `patients`); default `rows`."""
    entity_query: str = ""
    """sql: the metric per entity, for measuring a step against its control group: a query
    with `:ids` (expanded to the entity ids) returning `id` and `value` per entity. For a
    percent metric a value is yes/no (1 or 0), e.g. churned."""
    entity_total: str = ""
    """sql: how many entities the metric is over (one number), to translate a per-entity
    effect into the metric; unset: the metric is a sum of the entities' values."""

    @field_validator("entity_query")
    @classmethod
    def _names_ids(cls, query: str) -> str:
        if query and ":ids" not in query:
            raise ValueError("an entity query reads the entities it is given: use :ids")
        return query

    # Checked at load: a format that cannot show a number would fail at every reading.
    _format_ok = field_validator("format")(lambda cls, text: check_number_format(text))

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Metric:
        low, high = self.bounds()
        if low is not None and high is not None and low >= high:
            raise ValueError(f"minimum ({low:g}) must be below maximum ({high:g})")
        return self

    def bounds(self) -> tuple[float | None, float | None]:
        """(lowest, highest) value the metric can take; None: no bound."""
        low = self.minimum if self.minimum is not None else _UNIT_MINIMUM.get(self.unit)
        high = self.maximum if self.maximum is not None else _UNIT_MAXIMUM.get(self.unit)
        return low, high

    def show(self, value: float) -> str:
        text = self.format.format(value)
        if text.startswith("-") and not any(c in "123456789" for c in text):
            text = text[1:]  # a value that rounds to zero shows as 0, not -0.0
        return f"{text}%" if self.unit == "percent" and not text.endswith("%") else text


_UNIT_MINIMUM = {"percent": 0.0, "count": 0.0, "currency": 0.0, "minutes": 0.0, "hours": 0.0}
_UNIT_MAXIMUM = {"percent": 100.0}


class Parameter(Spec):
    """One parameter of an action (a small JSON-schema subset)."""

    type: Literal["integer", "number", "string", "boolean"] = "string"
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


RESERVED_PARAMETERS = {
    "rationale": "the model's reasoning for a step, shown as the model's",
    "expected_impact": "the impact the model expects of a step, shown as the model's",
    "params": "the model may nest a step's parameters in it",
    "draft": "the drafted text a step sends",
}
"""Names an action's parameters may not take: Baton gives them a meaning of its own in a
model's tool calls, on the cards and when a step runs."""


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
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    """http: the request method."""
    url: str | None = None
    """http and webhook: URL template, absolute or relative to the connection's."""
    body: Any = None
    """http and webhook: a JSON value whose strings are sandboxed templates; a string that
    is one `{{ expression }}` keeps the expression's type."""
    headers: dict[str, str] = Field(default_factory=dict)
    """http: extra request headers (templates)."""
    to: str | None = None
    """smtp: recipients template (comma-separated); default the row's `email` per row."""
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    risk: Literal["low", "medium", "high"] = "low"
    cost: str | float = 0.0
    """A number, or a sandboxed template over `params` and `audience`."""
    reaches_customers: bool = False
    expected_impact: str = ""
    rows: str = ""
    """What one row it finds or works on is, in the plural (`customers`, `refunds`);
    default: the rows of the step it depends on, else `rows`."""
    sends_draft: bool | None = None
    """Sends the drafted artifact of a step before it, so a plan must draft first. Unset:
    true for an smtp connection, or when the statement, body, url, headers or `to` use
    `draft`."""
    draft_fields: tuple[str, ...] = ()
    """Intelligence lane: the row fields the model sees when drafting. None by default,
    so no customer's personal or contact data reaches a prompt unless declared."""
    holdout: float | None = Field(default=None, ge=0, lt=1)
    """The share of its audience held back to measure it; default the policy's; 0 opts out
    (its effect is then not measured causally)."""
    entity_key: str = ""
    """The row field holding the entity id; default `id`, else the first field ending `_id`."""
    effect_days: float | None = Field(default=None, gt=0)
    """How long after it ran its effect is read; default from `expected_impact` ("within 3
    weeks"), else 14 days."""
    always_ask: bool = False
    """Every step of it waits for a person: policy never runs it unasked, and Baton never
    offers to auto-approve it however often it was approved."""
    segment: str = ""
    """A row field (plan, tier) whose values split its measured effect: estimated and
    pooled per segment as well as overall."""

    @field_validator("parameters")
    @classmethod
    def _not_reserved(cls, parameters: dict[str, Parameter]) -> dict[str, Parameter]:
        taken = [name for name in parameters if name in RESERVED_PARAMETERS]
        if taken:
            said = "; ".join(f"{name!r} is {RESERVED_PARAMETERS[name]}" for name in taken)
            raise ValueError(f"parameter names reserved by Baton, rename them: {said}")
        return parameters

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
        return self


class PlayStep(Spec):
    action: str
    params: dict[str, Any] = Field(default_factory=dict)


class Play(Spec):
    """A sequence of steps the playbook planner proposes together."""

    name: str
    rationale: str
    steps: tuple[PlayStep, ...]
    cooldown_days: float | None = Field(default=None, ge=0)
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
    params: dict[str, Any] | None = None
    """Applies only to steps with exactly these parameters (a parameter class)."""
    audience_at_most: int | None = None
    cost_at_most: float | None = None
    earned: bool = False
    """An `auto` rule earned by approvals (earned autonomy): it turns what other rules
    would ask a person about into an automatic approval, within its bounds; it never
    overrides a forbid, a budget, a rate cap or an action marked `always_ask`."""
    approvals: int | Literal["all"] | None = None
    """For `approve`: how many different approvers must approve, or `all` of them."""
    from_groups: tuple[str, ...] = ()
    """For `approve`: one approval from each of these groups of `people.groups`."""

    @model_validator(mode="after")
    def _param_complete(self) -> Rule:
        given = [self.param is not None, self.op is not None, self.value is not None]
        if any(given) and not all(given):
            raise ValueError("a parameter condition needs param, op and value together")
        return self

    @model_validator(mode="after")
    def _quorum_needs_approve(self) -> Rule:
        if (self.approvals is not None or self.from_groups) and self.decide != "approve":
            raise ValueError("approvals and from_groups apply to a rule that decides approve")
        if isinstance(self.approvals, int) and self.approvals < 1:
            raise ValueError("approvals must be at least 1, or all")
        if self.earned and self.decide != "auto":
            raise ValueError("an earned rule decides auto")
        return self


class Policy(Spec):
    default: Literal["auto", "approve", "forbid"] = "approve"
    rules: tuple[Rule, ...] = ()
    approval_timeout_h: float = Field(default=48.0, gt=0)
    on_timeout: Literal["deny", "approve"] = "deny"
    remind_after_h: float | None = Field(default=None, gt=0)
    escalate_after_h: float | None = Field(default=None, gt=0)
    budget: float = Field(default=0.0, ge=0)
    """Default budget per outcome when the owner names none."""
    max_steps_per_day: int = Field(default=20, ge=0)
    max_steps_per_plan: int = Field(default=10, ge=1)
    """At most this many steps in one plan; a longer plan from the model is refused, and
    it is told the limit when it is asked again."""
    holdout: float = Field(default=0.10, ge=0, lt=1)
    """The share of a step's audience held back as a control group (0: none)."""
    autonomy_after: int = Field(default=5, ge=1)
    """Approvals of an action with the same parameters, none rejected, after which (with a
    favourable measured effect) Baton offers the approvers to auto-approve it."""
    holdout_min: int = Field(default=4, ge=2)
    """The smallest control group worth holding back, and the fewest entities per group an
    effect is estimated from; a smaller audience is not held back."""


class People(Spec):
    owner: str = ""
    approvers: tuple[str, ...] = ()
    on_call: tuple[str, ...] = ()
    """The escalation chain, first to last."""
    names: dict[str, str] = Field(default_factory=dict)
    """Display names by user id; anyone else is named as the chat platform names them."""
    notify: Literal["channel", "dm"] = "channel"
    """`dm`: each approval request also goes to each approver's direct messages."""
    approvals_channel: str = ""
    """A channel (Slack channel id, Teams conversation id) where every approval card is
    posted as well, kept up to date with the original."""
    groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Named groups of people (`finance: [fay, fred]`) a rule's `from_groups` can ask one
    approval from each of."""
    deputies: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Standing deputies (`alice: [bob]`): who decides for someone away who named nobody,
    and who may be named as their delegate even without being an approver."""


class RateLimit(Spec):
    """How many messages (commands, statements, answers) one person may send per window."""

    messages: int = Field(default=20, ge=1)
    window_s: int = Field(default=60, ge=1)


class Workspace(Spec):
    """Everything one tenant declares."""

    name: str
    currency: str = "GBP"
    check_every_h: float = 24.0
    """How often each outcome is measured (and re-planned when needed), in hours."""
    connections: dict[str, Connection] = Field(default_factory=dict)
    metrics: dict[str, Metric]
    actions: dict[str, Action] = Field(default_factory=dict)
    playbooks: dict[str, tuple[Play, ...]] = Field(default_factory=dict)
    policy: Policy = Policy()
    people: People = People()
    shadow: bool = False
    rate_limit: RateLimit = RateLimit()
    case_sources: dict[str, CaseSource] = Field(default_factory=dict)
    case_playbooks: dict[str, CasePlaybook] = Field(default_factory=dict)

    @field_validator("check_every_h")
    @classmethod
    def _cadence(cls, hours: float) -> float:
        if not hours * 3_600 >= 1:  # also refuses NaN
            raise ValueError(
                f"must be a number of hours of at least one second (0.0003), not {hours:g}: "
                "it is how often each outcome is measured"
            )
        return hours

    @model_validator(mode="after")
    def _case_references(self) -> Workspace:
        derived = {name: m.cases for name, m in self.metrics.items() if m.cases}
        for where, what in check_references(
            self.case_sources,
            self.case_playbooks,
            connections=set(self.connections),
            actions=set(self.actions),
            derived=derived,
        ):
            _need(False, where, what)
        return self

    @model_validator(mode="after")
    def _references(self) -> Workspace:
        for metric_name, metric_spec in self.metrics.items():
            if metric_spec.cases:
                _need(
                    metric_spec.cases in self.case_sources,
                    f"metrics.{metric_name}.cases",
                    f"unknown case source {metric_spec.cases!r}",
                )
                continue
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
                if action.lane is Lane.SYSTEMS:
                    kind = self.connections[action.connection].kind
                    field = _SYSTEMS_NEEDS.get(kind)
                    _need(
                        field is None or getattr(action, field) not in (None, ""),
                        f"actions.{name}",
                        f"a {kind} action needs {field}",
                    )
        for i, rule in enumerate(self.policy.rules):
            for group in rule.from_groups:
                _need(
                    group in self.people.groups,
                    f"policy.rules.{i}.from_groups",
                    f"unknown group {group!r} (people.groups names them)",
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


_SYSTEMS_NEEDS = {"sql": "statement", "chat": "message"}
"""What a systems action must declare for its connection's kind (http, smtp and webhook
have usable defaults: the connection's URL, the drafted artifact, an event body)."""


def _need(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise ValueError(f"{where}: {what}")
