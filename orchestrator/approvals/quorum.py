"""How many approvals a step needs, and whether the votes given meet it.

A policy rule that decides `approve` may ask for N approvals, all of the approvers, or one
from each of several groups. The quorum is resolved once, when the approval is requested,
and kept on the approval: a later change of the workspace file does not move the goal
posts of a request already made.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from orchestrator.models import Approval
from orchestrator.workspace.catalog import People, Rule

ALL: Literal["all"] = "all"


@dataclass(frozen=True)
class Quorum:
    """What the matching rules ask for, before it is resolved against the approvers."""

    approvals: int | Literal["all"] = 1
    groups: tuple[str, ...] = ()


SINGLE = Quorum()
"""One approver's click decides: the policy's default."""


def of_rules(rules: Iterable[Rule]) -> Quorum:
    """The quorum of every matching `approve` rule at once: the most approvals any asks
    for (`all` above any number) and every group any names."""
    counts: list[int | Literal["all"]] = [1]
    groups: dict[str, None] = {}
    for rule in rules:
        if rule.decide != "approve":
            continue
        if rule.approvals is not None:
            counts.append(rule.approvals)
        groups.update(dict.fromkeys(rule.from_groups))
    approvals: int | Literal["all"] = (
        ALL if ALL in counts else max(c for c in counts if isinstance(c, int))
    )
    return Quorum(approvals, tuple(groups))


@dataclass(frozen=True)
class Resolved:
    """A quorum made concrete for one approval."""

    approvers: tuple[str, ...]
    """Everyone who may decide: the outcome's approvers and the named groups' members."""
    needed: int
    groups: dict[str, tuple[str, ...]]


def resolve(quorum: Quorum, approvers: Sequence[str], people: People) -> Resolved:
    groups = {name: tuple(people.groups.get(name, ())) for name in quorum.groups}
    members = [m for group in groups.values() for m in group]
    eligible = tuple(dict.fromkeys((*approvers, *members)))
    needed = len(approvers) if quorum.approvals == ALL else int(quorum.approvals)
    return Resolved(eligible, max(needed, 1), groups)


def approved_by(approval: Approval) -> tuple[str, ...]:
    """Whom the approvals given count for, in order, each once."""
    return tuple(dict.fromkeys(v.counts_for for v in approval.votes if v.approve))


def voted(approval: Approval, person: str) -> bool:
    return any(v.counts_for == person for v in approval.votes)


def met(approval: Approval) -> bool:
    """Enough different people approved, and every group has one of its members among them."""
    yes = set(approved_by(approval))
    return len(yes) >= approval.needed and all(yes & set(m) for m in approval.groups.values())


def awaited(approval: Approval) -> tuple[str, ...]:
    """Who may still help meet the quorum: the members of groups not yet met, or (counts
    only) the approvers who have not decided yet. Empty once the quorum is met."""
    if met(approval):
        return ()
    yes = set(approved_by(approval))
    open_groups = [m for m in approval.groups.values() if not yes & set(m)]
    if open_groups and len(yes) >= approval.needed:
        return tuple(dict.fromkeys(p for m in open_groups for p in m if not voted(approval, p)))
    return tuple(p for p in approval.approvers if not voted(approval, p))


def is_single(approval: Approval) -> bool:
    """One click decides (no quorum): shown and answered as before quorums existed."""
    return approval.needed <= 1 and not approval.groups
