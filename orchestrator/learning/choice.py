"""Choosing a play by Thompson sampling on expected effect per cost.

Each eligible play's effect is drawn from what the evidence says of its steps (a normal
around the pooled estimate, its standard error as spread); a play with no evidence draws
from a wide prior around zero, so it still gets tried. The draw, in the metric's good
direction, is weighed against the play's cost for 100 entities; the best draw wins.
With no evidence for any eligible play, the playbook's own order decides.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from orchestrator.errors import BatonError
from orchestrator.learning.evidence import PER, Evidence, Key
from orchestrator.models import Direction
from orchestrator.steps.policy import param_class
from orchestrator.steps.templates import render_number
from orchestrator.workspace.catalog import Play, Workspace

PRIOR_SPREAD = 2.0
"""A play with no evidence draws with this many times the largest known effect as spread."""


def play_evidence(
    play: Play, metric: str, evidence: Mapping[Key, Evidence]
) -> tuple[float, float] | None:
    """(effect, standard error) of a play's measured steps together; None if none."""
    found = [evidence.get(Key(s.action, param_class(s.params), metric)) for s in play.steps]
    known = [e for e in found if e is not None]
    if not known:
        return None
    return sum(e.effect for e in known), math.sqrt(sum(e.se**2 for e in known))


def play_cost(play: Play, workspace: Workspace) -> float:
    """What the play's steps cost for 100 entities (0 where a cost cannot be worked out)."""
    total = 0.0
    for step in play.steps:
        action = workspace.actions[step.action]
        context = {"params": dict(step.params), "audience": PER}
        try:
            total += render_number(action.cost, context, name=f"actions.{step.action}.cost")
        except BatonError:
            continue
    return total


def choose(
    plays: Sequence[Play],
    *,
    metric: str,
    direction: Direction,
    workspace: Workspace,
    evidence: Mapping[Key, Evidence],
    rng: random.Random,
) -> Play:
    """One of `plays` (not empty), by one Thompson draw each."""
    known = {p.name: play_evidence(p, metric, evidence) for p in plays}
    if not any(known.values()):
        return plays[0]
    spread = PRIOR_SPREAD * max(abs(k[0]) + k[1] for k in known.values() if k)
    best, best_score = plays[0], -math.inf
    for play in plays:
        found = known[play.name]
        draw = rng.gauss(*found) if found else rng.gauss(0.0, spread)
        benefit = -draw if direction is Direction.DECREASE else draw
        cost = 1.0 + play_cost(play, workspace)
        score = benefit / cost if benefit > 0 else benefit * cost
        if score > best_score:
            best, best_score = play, score
    return best
