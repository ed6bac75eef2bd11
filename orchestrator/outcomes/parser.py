"""The deterministic outcome parser: common phrasings to a draft outcome.

It answers what it can and leaves the rest as `None` for the intake to ask about.
It never raises on any text.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from orchestrator.models import Direction
from orchestrator.outcomes.deadlines import find_deadline
from orchestrator.workspace.catalog import Workspace


class Change(StrEnum):
    """How the target is stated."""

    TO = "to"  # "to 5%", "below 5%", "from 8% to 5%"
    RELATIVE = "relative"  # "by 10%" of the current value
    POINTS = "points"  # "by 2 points": an absolute amount in metric units
    PERCENT_AMBIGUOUS = "percent_ambiguous"  # "by 2%" on a metric that is itself a percent


class Draft(BaseModel):
    """What the parser understood; `None` means not understood (yet)."""

    model_config = ConfigDict(frozen=True)

    text: str
    metric: str | None = None
    metric_candidates: tuple[str, ...] = ()
    direction: Direction | None = None
    change: Change | None = None
    amount: float | None = None
    stated_baseline: float | None = None
    deadline: datetime | None = None
    deadline_phrase: str = ""
    deadline_invalid: bool = False
    budget: float | None = None
    approvers: tuple[str, ...] = ()
    shadow: bool = False
    """Asked for shadow mode: plan and govern, write nothing external."""
    sla_s: int | None = None
    """A standing outcome ("every X within N hours"): each case's SLA in seconds."""
    case_source: str | None = None
    """A standing outcome: the declared case source X names."""
    case_playbook: str | None = None

    @property
    def understood_anything(self) -> bool:
        return any(
            x is not None for x in (self.metric, self.direction, self.amount, self.deadline)
        ) or bool(self.metric_candidates)


DECREASE = r"reduce|cut|lower|decrease|drop|shrink|bring\s+down|minimi[sz]e|halve|slash|trim"
INCREASE = r"increase|raise|grow|boost|lift|double|maximi[sz]e|bring\s+up|improve|get"
_VERB = re.compile(rf"\b(?P<dec>{DECREASE})\b|\b(?P<inc>{INCREASE})\b|\b(?P<keep>keep|hold)\b")
_NUMBER = r"(\d+(?:[.,]\d+)?)\s*(k|m)?"
_MONEY = r"[£$€]?\s*" + _NUMBER
_BUDGET = re.compile(
    r"\b(?:with\s+(?:a\s+)?budget\s+(?:of\s+)?|budget\s*(?:of|:|=)?\s*|spend(?:ing)?\s+"
    r"(?:up\s+to\s+|at\s+most\s+|no\s+more\s+than\s+)?)(?:gbp|usd|eur)?\s*" + _MONEY
)
_APPROVERS = re.compile(
    r"\bapprov\w*\s*(?:by|:)?\s*((?:(?:<@\w+>|@[\w.-]+)[\s,]*(?:and\s+)?)+)", re.IGNORECASE
)
_MENTION = re.compile(r"<@(\w+)>|@([\w.-]+)")
_SIGN = r"([-\u2212]?)"
"""A minus sign kept in front of a target ("to -50%"); bounds then judge it."""
_FROM_TO = re.compile(
    r"\bfrom\s+" + _SIGN + _NUMBER + r"\s*%?\s+(?:down\s+|up\s+)?to\s+" + _SIGN + _NUMBER + r"\s*%?"
)
_BY_POINTS = re.compile(
    r"\bby\s+" + _NUMBER + r"\s*(?:percentage\s+points?|points?|pts?|pp|p\.p\.)(?![a-z])"
)
_BY_PERCENT = re.compile(r"\bby\s+" + _NUMBER + r"\s*(?:%|percent|per\s+cent)(?P<rel>\s+relative)?")
_TO = re.compile(
    r"\b(?:to|below|under|above|over|at\s+most|at\s+least|less\s+than|more\s+than|"
    r"beneath|within|at)\s+" + _SIGN + _NUMBER + r"\s*(?:%|percent)?"
)
_BY_AMOUNT = re.compile(r"\bby\s+" + _NUMBER + r"(?!\s*(?:%|percent|day|week|month|year))")
_SHADOW = re.compile(r"\b(?:in\s+)?(?:shadow(?:\s+mode)?|dry[-\s]run)\b")
_BELOW_WORDS = re.compile(r"\b(below|under|at\s+most|less\s+than|beneath)\b")
_ABOVE_WORDS = re.compile(r"\b(above|over|at\s+least|more\s+than)\b")


def number(value: str, suffix: str | None = None) -> float:
    """'7,5' is a decimal comma; '2,000' a thousands separator."""
    scale = {"k": 1e3, "m": 1e6}.get((suffix or "").lower(), 1.0)
    decimal_comma = re.fullmatch(r"\d+,(\d{1,2}|\d{4,})", value) is not None
    return float(value.replace(",", ".") if decimal_comma else value.replace(",", "")) * scale


def signed(sign: str, value: str, suffix: str | None = None) -> float:
    """`number`, negative when `sign` is a minus."""
    return -number(value, suffix) if sign else number(value, suffix)


def _words(text: str) -> str:
    """Lower case, with `_` and `-` as spaces: "no-shows", "no_shows" and "no shows" match."""
    return re.sub(r"[_\-]", " ", text.lower())


def match_metrics(text: str, workspace: Workspace) -> tuple[str, ...]:
    """Catalog metrics named in `text` by name or synonym; the longest phrase wins overlaps."""
    lowered = " " + _words(text) + " "
    hits: list[tuple[int, int, str]] = []
    for name, metric in workspace.metrics.items():
        for phrase in {name, *metric.synonyms}:
            needle = re.escape(_words(phrase))
            for found in re.finditer(rf"(?<![a-z0-9]){needle}(?![a-z0-9])", lowered):
                hits.append((found.start(), found.end(), name))
    hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
    taken: list[tuple[int, int]] = []
    chosen: list[str] = []
    for start, end, name in hits:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        if name not in chosen:
            chosen.append(name)
    return tuple(chosen)


def _direction(text: str) -> Direction | None:
    found = _VERB.search(text)
    if found is None:
        return None
    if found.group("dec"):
        return Direction.DECREASE
    if found.group("keep"):
        if _BELOW_WORDS.search(text):
            return Direction.DECREASE
        return Direction.INCREASE if _ABOVE_WORDS.search(text) else None
    return None if found.group("inc") in ("improve", "get") else Direction.INCREASE


def _numbers(text: str) -> tuple[Change | None, float | None, float | None]:
    """(change, amount, stated baseline) from the number phrases in `text`."""
    if re.search(r"\bhalve\b", text):
        return Change.RELATIVE, 50.0, None
    if re.search(r"\bdouble\b", text):
        return Change.RELATIVE, 100.0, None
    if found := _FROM_TO.search(text):
        return Change.TO, signed(*found.group(4, 5, 6)), signed(*found.group(1, 2, 3))
    if found := _BY_POINTS.search(text):
        return Change.POINTS, number(found.group(1), found.group(2)), None
    if found := _BY_PERCENT.search(text):
        kind = Change.RELATIVE if found.group("rel") else Change.PERCENT_AMBIGUOUS
        return kind, number(found.group(1), found.group(2)), None
    if found := _TO.search(text):
        return Change.TO, signed(*found.group(1, 2, 3)), None
    if found := _BY_AMOUNT.search(text):
        return Change.POINTS, number(found.group(1), found.group(2)), None
    return None, None, None


def _extract(pattern: re.Pattern[str], text: str) -> tuple[re.Match[str] | None, str]:
    found = pattern.search(text)
    if found is None:
        return None, text
    return found, text[: found.start()] + " " + text[found.end() :]


_STANDING = re.compile(
    r"\b(?:every|each)\s+(?P<what>.+?)\s+within\s+(?P<n>\d+(?:[.,]\d+)?)\s*"
    r"(?P<unit>minutes?|mins?|hours?|hrs?|h|days?|d|weeks?|w)\b"
)
_SLA_SECONDS = {"m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def match_case_sources(text: str, workspace: Workspace) -> tuple[str, ...]:
    """Declared case sources named in `text` by name or synonym, longest phrase first."""
    lowered = " " + _words(text) + " "
    hits: list[tuple[int, str]] = []
    for name, source in workspace.case_sources.items():
        for phrase in {name, *source.synonyms}:
            needle = re.escape(_words(phrase))
            if re.search(rf"(?<![a-z0-9]){needle}(?![a-z0-9])", lowered):
                hits.append((len(phrase), name))
    return tuple(dict.fromkeys(name for _, name in sorted(hits, key=lambda h: -h[0])))


def _standing(lowered: str, workspace: Workspace) -> dict[str, object] | None:
    """ "every / each X within N minutes|hours|days": X onto a declared case source."""
    found = _STANDING.search(lowered)
    if found is None:
        return None
    sla_s = int(number(found.group("n")) * _SLA_SECONDS[found.group("unit")[0]])
    sources = match_case_sources(found.group("what"), workspace)
    source = sources[0] if sources else None
    books = [n for n, b in workspace.case_playbooks.items() if b.source == source]
    named = [n for n in books if n.replace("_", " ") in lowered]
    book = (named or books)[0] if books else None
    spec = workspace.case_playbooks[book] if book else None
    return {
        "sla_s": sla_s,
        "case_source": source,
        "case_playbook": book,
        "metric": spec.metric if spec else None,
        "direction": Direction.INCREASE,
        "change": Change.TO,
        "amount": spec.target_share if spec else None,
    }


def parse(text: str, workspace: Workspace, now: datetime) -> Draft:
    """Parse an outcome statement; never raises."""
    normal = " ".join(text.replace("\u2019", "'").split())[:2000]
    # Mentions keep their case (Slack user ids); everything else is matched in lower case.
    approver_match, normal = _extract(_APPROVERS, normal)
    shadow_match, lowered = _extract(_SHADOW, normal.lower())
    standing = _standing(lowered, workspace)
    if standing is not None:
        mentions = approver_match.group(1) if approver_match else ""
        plain = Draft(
            text=text.strip()[:2000],
            approvers=tuple(a or b for a, b in _MENTION.findall(mentions)),
            shadow=shadow_match is not None,
        )
        return plain.model_copy(update=standing)
    budget_match, rest = _extract(_BUDGET, lowered)
    deadline, phrase, rest = find_deadline(rest, now)
    metrics = match_metrics(rest, workspace)
    change, amount, stated = _numbers(rest)
    metric = metrics[0] if len(metrics) == 1 else None
    if (
        change is Change.PERCENT_AMBIGUOUS
        and metric is not None
        and workspace.metrics[metric].unit != "percent"
    ):
        change = Change.RELATIVE
    approvers: tuple[str, ...] = ()
    if approver_match is not None:
        approvers = tuple(a or b for a, b in _MENTION.findall(approver_match.group(1)))
    return Draft(
        text=text.strip()[:2000],
        metric=metric,
        metric_candidates=metrics if len(metrics) > 1 else (),
        direction=_direction(rest),
        change=change,
        amount=amount,
        stated_baseline=stated,
        deadline=deadline,
        deadline_phrase=phrase,
        deadline_invalid=bool(phrase) and deadline is None,
        budget=number(*budget_match.group(1, 2)) if budget_match else None,
        approvers=approvers,
        shadow=shadow_match is not None,
    )
