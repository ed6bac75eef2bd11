"""Edit, then approve: an approver corrects a step's parameters or its draft and approves
the corrected version, which is exactly what runs.

The edited step is checked again as if planned that way: its parameters against the
action's schema, its cost recomputed, policy and budget asked again (a forbid refuses the
edit). The edit is part of the approver's vote, in the same commit, so the version
approved and the version executed cannot differ. An edit is refused once someone else has
approved: they approved the other version (they can be asked to reject it instead).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.errors import BatonError
from orchestrator.models import Edit, Step
from orchestrator.steps.policy import Decision
from orchestrator.workspace.catalog import Action, Parameter

DIFF_LINES = 40
"""Lines of a draft's difference kept in the audit trail and on the card at most."""


class EditRefused(BatonError):
    """The edit cannot be approved; `why` says what to change, `field` which parameter (or
    `DRAFT`) it is about, when it is about one (a form shows it next to that input)."""

    def __init__(self, why: str, field: str | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.field = field


DRAFT = "draft"
"""The `field` of a refusal about the draft."""


@dataclass(frozen=True)
class Change:
    """What an approver asked: parameters to set, or a new draft."""

    params: dict[str, str]
    draft: str | None = None


def _boolean(text: str) -> bool:
    return {"true": True, "yes": True, "false": False, "no": False}[text.lower()]


_PARSE: dict[str, Callable[[str], Any]] = {
    "integer": int,
    "number": float,
    "boolean": _boolean,
    "string": str,
}


def coerce(name: str, spec: Parameter, text: str) -> Any:
    """A parameter value typed as the action's schema says, within its bounds."""
    try:
        value = _PARSE[spec.type](text)
    except (ValueError, KeyError):
        raise EditRefused(f"{name} must be {spec.type}, not {text!r}", name) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise EditRefused(f"{name} must be at least {spec.minimum:g}", name)
        if spec.maximum is not None and value > spec.maximum:
            raise EditRefused(f"{name} must be at most {spec.maximum:g}", name)
    return value


def edited(step: Step, action: Action, change: Change) -> Step:
    """The step as corrected; refused when it names no parameter of the action, or changes
    a draft the step does not send."""
    params = dict(step.params)
    for name, text in change.params.items():
        spec = action.parameters.get(name)
        if spec is None:
            known = ", ".join(action.parameters) or "none"
            raise EditRefused(f"{name} is not a parameter of this step (it has: {known})", name)
        params[name] = coerce(name, spec, text)
    output = step.output
    if change.draft is not None:
        if not change.draft.strip():
            raise EditRefused("the edited draft is empty", DRAFT)
        upstream = dict(output.get("upstream", {}))
        if not str(upstream.get("draft") or "").strip():
            raise EditRefused("this step sends no draft; change a parameter instead", DRAFT)
        upstream["draft"] = change.draft
        output = {**output, "upstream": upstream}
    return step.model_copy(update={"params": params, "output": output})


def draft_of(step: Step) -> str | None:
    draft = step.output.get("upstream", {}).get("draft")
    return str(draft) if draft is not None else None


def record(before: Step, after: Step, by: str, at: datetime) -> Edit:
    return Edit(
        by=by,
        at=at,
        params_before=before.params,
        params_after=after.params,
        draft_before=draft_of(before),
        draft_after=draft_of(after),
    )


def diff(edit: Edit) -> list[str]:
    """The change, line by line: parameters as `name: old -> new`, a draft as a diff."""
    lines = [
        f"{name}: {edit.params_before.get(name)} -> {value}"
        for name, value in edit.params_after.items()
        if edit.params_before.get(name) != value
    ]
    if edit.draft_before != edit.draft_after:
        before = (edit.draft_before or "").splitlines()
        after = (edit.draft_after or "").splitlines()
        lines += [
            line
            for line in difflib.unified_diff(before, after, "draft", "edited", lineterm="", n=1)
            if not line.startswith(("---", "+++"))
        ]
    return lines[:DIFF_LINES]


def checked(decision: Decision) -> None:
    """Refuse an edited step policy or budget would forbid."""
    if decision.verdict == "forbid":
        raise EditRefused(f"policy forbids the edited step: {decision.reason}")
