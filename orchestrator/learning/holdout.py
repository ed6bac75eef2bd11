"""Holdout groups: which of a step's audience is held back, deterministically.

An entity's place is decided by a hash of the step's experiment id and the entity id, so
a retry, a crash or a second worker splits the same audience the same way; the split is
also recorded with the step. The control group is the `k` entities with the lowest
hashes, `k` from policy: a share of the audience, at least a minimum size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from orchestrator.models import Holdout, Lane, Step
from orchestrator.workspace.catalog import Action, Workspace

EntityId = int | str

OPTED_OUT = "the action opts out of holdouts (holdout: 0)"
TOO_SMALL = "the audience is too small to hold back {minimum}"
NO_ID = "its rows have no id"


def experiment_id(step: Step) -> str:
    return f"{step.workspace}:{step.outcome_id}:{step.id}"


def rank(experiment: str, entity: EntityId) -> int:
    """The entity's place in the draw: a stable hash, the same on every machine."""
    digest = hashlib.sha256(f"{experiment}|{entity}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def control_size(audience: int, share: float, minimum: int) -> int:
    """How many to hold back: `share` of the audience, at least `minimum`; none when that
    would leave fewer treated than held back."""
    if share <= 0 or audience <= 0:
        return 0
    size = max(round(share * audience), minimum)
    return size if size <= audience - size else 0


def assign(
    experiment: str, ids: Sequence[EntityId], share: float, minimum: int
) -> tuple[list[EntityId], list[EntityId]]:
    """(treated, control), each in the audience's order."""
    unique = list(dict.fromkeys(ids))
    size = control_size(len(unique), share, minimum)
    held = set(sorted(unique, key=lambda e: rank(experiment, e))[:size])
    return [e for e in unique if e not in held], [e for e in unique if e in held]


def acts_on_audience(action: Action, workspace: Workspace) -> bool:
    """A step that does something to each row (writes per row, emails each row): lookups,
    drafts and posts to the team do not."""
    if action.lane is not Lane.SYSTEMS or action.connection is None:
        return False
    kind = workspace.connections[action.connection].kind
    return kind != "chat" and (action.for_each is not None or kind == "smtp")


def entity_key(action: Action, rows: Sequence[dict[str, Any]]) -> str:
    """The field holding each row's id ("" if the rows have none)."""
    if action.entity_key:
        return action.entity_key
    first = rows[0] if rows else {}
    if "id" in first:
        return "id"
    return next((k for k in first if k.endswith("_id")), "")


def split(
    step: Step, action: Action, workspace: Workspace, rows: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], Holdout | None]:
    """The rows the step acts on and its holdout; the rows unchanged and no holdout when
    it does not act on an audience."""
    if not rows or not acts_on_audience(action, workspace):
        return list(rows), None
    policy = workspace.policy
    share = policy.holdout if action.holdout is None else action.holdout
    key = entity_key(action, rows)
    experiment = experiment_id(step)
    if not key or any(key not in row for row in rows):
        return list(rows), Holdout(experiment=experiment, key=key, share=share, reason=NO_ID)
    if share <= 0:
        return list(rows), Holdout(experiment=experiment, key=key, share=0.0, reason=OPTED_OUT)
    treated, control = assign(experiment, [row[key] for row in rows], share, policy.holdout_min)
    reason = "" if control else TOO_SMALL.format(minimum=policy.holdout_min)
    held = set(control)
    kept = [row for row in rows if row[key] not in held]
    holdout = Holdout(
        experiment=experiment,
        key=key,
        share=share,
        treated=tuple(treated),
        control=tuple(control),
        reason=reason,
        segments=segments_of(action, key, rows) if control else {},
    )
    return kept, holdout


def segments_of(action: Action, key: str, rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Each row's segment by its id as text (a row without the field is in segment "-")."""
    if not action.segment:
        return {}
    return {str(row[key]): str(row.get(action.segment, "-")) for row in rows}


def without_control(
    rows: Sequence[dict[str, Any]], holdout: Holdout | None
) -> list[dict[str, Any]]:
    """`rows` with every control member removed: the last guard before a step acts."""
    if holdout is None or not holdout.control:
        return list(rows)
    held = set(holdout.control)
    return [row for row in rows if row.get(holdout.key) not in held]
