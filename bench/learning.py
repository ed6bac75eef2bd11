"""How well Baton learns what worked, against the demo business's ground truth.

    python -m bench.learning [--seeds 200] [--first-seed 0] [--rounds 12] [--warmup 4]
                             [--audiences 40 200 1000]

Each seed is one workspace with its own true world, drawn around the demo business's
rules (`bot.demo.simulation`): how likely a quiet customer is to churn, how many a
win-back email brings back, how much a discount cuts the odds, a trend no step causes,
and what each play costs. It then plans `--rounds` outcomes one after another. Each
outcome's plan is chosen by the real playbook choice (`learning.choice`, Thompson
sampling on the evidence pooled from the earlier outcomes, `learning.evidence`); its
acting step holds back a control group with the real assignment (`learning.holdout`,
10%, at least 4); every customer churns or not by the true probability of their arm
(each customer with their own churn odds: noise); the effect is estimated with the real
estimator (`learning.estimate`) after the 21-day window. It reports:

- coverage: the share of 95% intervals that contain the true effect on that audience
  (the mean of its customers' true effects), by audience size; goal at least 90%;
- best-play rate: after `--warmup` outcomes, the share of plans that chose the play with
  the truly best effect per cost; goal at least 80%; also split by how far apart the two
  plays truly are (their scores within 60% of each other: a near tie, which a dozen noisy
  measurements cannot settle), and the value captured: the chosen play's true score as a
  share of the best one's, summed over the plans (what Thompson sampling maximises);
- attribution: the effect on the metric Baton reports against the true one (mean error
  and mean absolute error, in points of churn of a business of 12,500 customers).

It measures the estimators, assignment, pooling and choice on a simulated world, not the
chat, queue and store around them (the tests drive those).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.demo.simulation import CHURN_QUIET, Odds
from orchestrator.learning import holdout
from orchestrator.learning.choice import choose, play_cost
from orchestrator.learning.estimate import estimate, on_metric
from orchestrator.learning.evidence import PER, entries, pool
from orchestrator.models import Direction, Effect, Holdout, Lane, Step, StepStatus
from orchestrator.workspace.catalog import Workspace

WINDOW_DAYS = 21
BASE = 12_500
"""Customers the churn rate is over (each outcome reaches 40 to 1,000 of them)."""
EPOCH = datetime(2027, 1, 1, tzinfo=UTC)
NOISE = 0.4
"""The spread (log scale) of customers' own churn odds around their world's."""
DAYS_APART = 7
"""Days between one outcome's plan and the next's."""
PLAYS = {"win_back": ("send_winback", {}), "discount": ("offer_discount", {"percent": 10})}


@dataclass(frozen=True)
class World:
    quiet_churn: float
    reactivate: float
    discount_factor: float
    trend: float
    costs: dict[str, float]
    """Cost per customer of each play's acting step."""

    def truth(self, action: str, odds: float, start_day: int) -> float:
        rules = Odds(odds, self.reactivate, self.discount_factor, self.trend)
        return rules.churn_probability(action, WINDOW_DAYS, start_day=start_day)


def draw_world(rng: random.Random) -> World:
    return World(
        quiet_churn=CHURN_QUIET * rng.uniform(0.5, 2.0),
        reactivate=rng.uniform(0.05, 0.7),
        discount_factor=rng.uniform(0.1, 0.9),
        trend=rng.uniform(-0.01, 0.01),
        costs={"win_back": rng.choice([0.0, 0.5, 2.0]), "discount": rng.choice([0.0, 1.0, 3.0])},
    )


def workspace_for(world: World) -> Workspace:
    spec = {
        "name": "bench",
        "connections": {"crm": {"kind": "sql", "url": "sqlite://"}},
        "metrics": {
            "churn_rate": {"connection": "crm", "unit": "percent", "direction": "decrease"}
        },
        "actions": {
            "send_winback": {"lane": "systems", "description": "win-back", "connection": "crm",
                             "for_each": "rows", "statement": "SELECT 1",
                             "cost": world.costs["win_back"] * 1.0},
            "offer_discount": {"lane": "systems", "description": "discount", "connection": "crm",
                               "for_each": "rows", "statement": "SELECT 1",
                               "cost": f"{{{{ {world.costs['discount']} * audience }}}}"},
        },
        "playbooks": {"churn_rate": [
            {"name": name, "rationale": name, "steps": [{"action": a, "params": p}]}
            for name, (a, p) in PLAYS.items()
        ]},
    }  # fmt: skip
    return Workspace.model_validate(spec)


def true_scores(world: World, workspace: Workspace, rounds: int) -> dict[str, float]:
    """Each play's true effect per cost (the choice's own scoring), for this world's
    customers (their odds' mean) in the middle of its outcomes (the trend)."""
    typical = world.quiet_churn * math.exp(NOISE**2 / 2)
    middle = rounds * DAYS_APART // 2

    def score(name: str) -> float:
        action = PLAYS[name][0]
        per_entity = world.truth(action, typical, middle) - world.truth("none", typical, middle)
        effect = on_metric(per_entity, PER, BASE, True)  # as the evidence has it: per 100
        play = next(p for p in workspace.playbooks["churn_rate"] if p.name == name)
        cost = 1.0 + play_cost(play, workspace)
        benefit = -effect
        return benefit / cost if benefit > 0 else benefit * cost

    return {name: score(name) for name in PLAYS}


NEAR_TIE = 0.6
"""Plays whose true scores are within this share of the best one's are a near tie."""


def run_outcome(
    rng: random.Random, world: World, action: str, audience: int, number: int, start_day: int
) -> tuple[Step, float]:
    """One acting step on a fresh audience: its step record with the estimate, and the
    true per-customer effect on that audience."""
    ids = list(range(number * 100_000, number * 100_000 + audience))
    treated, control = holdout.assign(f"bench:o{number}:s1", ids, 0.10, 4)
    # Each customer's own churn odds around the world's: the noise between customers.
    odds: dict[int | str, float] = {
        e: world.quiet_churn * rng.lognormvariate(0, NOISE) for e in ids
    }
    truths = [world.truth(action, odds[e], start_day) - world.truth("none", odds[e], start_day)
              for e in treated]  # fmt: skip

    def churned(e: int | str, arm: str) -> float:
        return 1.0 if rng.random() < world.truth(arm, odds[e], start_day) else 0.0

    interval = estimate(
        [churned(e, action) for e in treated], [churned(e, "none") for e in control]
    )
    scaled = [None if v is None else on_metric(v, len(treated), BASE, True)
              for v in (interval.value, interval.low, interval.high)]  # fmt: skip
    effect = Effect(
        status=interval.status, treated=interval.treated, control=interval.control,
        method=interval.method, per_entity=interval.value, low=interval.low, high=interval.high,
        on_metric=scaled[0], metric_low=scaled[1], metric_high=scaled[2],
    )  # fmt: skip
    step = Step(
        id=f"s{number}", outcome_id=f"o{number}", workspace="bench", action=action,
        lane=Lane.SYSTEMS, params=dict(PLAYS["discount"][1]) if action == "offer_discount" else {},
        created_at=EPOCH, status=StepStatus.SUCCEEDED, incremental=effect,
        holdout=Holdout(experiment=f"bench:o{number}:s1", key="id", share=0.1,
                        treated=tuple(treated), control=tuple(control)),
    )  # fmt: skip
    return step, statistics.fmean(truths)


@dataclass
class Tally:
    covered: dict[int, list[bool]]
    chose_best: list[bool]
    errors: list[float]
    near_tie: list[bool]
    """Per plan after the warm-up: whether its world's plays are a near tie."""
    captured: list[float]
    best_value: list[float]


def run_seed(seed: int, rounds: int, warmup: int, audiences: list[int], tally: Tally) -> None:
    rng = random.Random(seed)
    world = draw_world(rng)
    workspace = workspace_for(world)
    plays = list(workspace.playbooks["churn_rate"])
    rng.shuffle(plays)  # the playbook's order is no hint of the truth
    scores = true_scores(world, workspace, rounds)
    best = max(scores, key=lambda name: scores[name])
    second = min(scores.values())
    tie = scores[best] > 0 and (scores[best] - second) < NEAR_TIE * scores[best]
    history: list[Step] = []
    for number in range(rounds):
        evidence = pool(entries(history, "churn_rate"))
        play = choose(plays, metric="churn_rate", direction=Direction.DECREASE,
                      workspace=workspace, evidence=evidence,
                      rng=random.Random(f"{seed}:{number}"))  # fmt: skip
        if number >= warmup:
            tally.chose_best.append(play.name == best)
            tally.near_tie.append(tie)
            tally.captured.append(scores[play.name])
            tally.best_value.append(scores[best])
        action = play.steps[0].action
        audience = audiences[number % len(audiences)]
        step, truth = run_outcome(
            rng, world, action, audience, number, start_day=number * DAYS_APART
        )
        history.append(step)
        effect = step.incremental
        if effect is None or effect.low is None or effect.high is None:
            continue
        tally.covered.setdefault(audience, []).append(effect.low <= truth <= effect.high)
        true_on_metric = on_metric(truth, effect.treated, BASE, True)
        tally.errors.append((effect.on_metric or 0.0) - true_on_metric)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--audiences", type=int, nargs="+", default=[40, 200, 1000])
    args = parser.parse_args()
    tally = Tally({}, [], [], [], [], [])
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for seed in seeds:
        run_seed(seed, args.rounds, args.warmup, args.audiences, tally)
    every = [c for found in tally.covered.values() for c in found]
    print(
        f"seeds {seeds.start} to {seeds.stop - 1}, outcomes per seed {args.rounds}, "
        f"warm-up {args.warmup}"
    )
    for audience, found in sorted(tally.covered.items()):
        print(f"coverage, audience {audience:>5}: {sum(found) / len(found):.1%} of {len(found)}")
    print(f"coverage, all: {sum(every) / len(every):.1%} of {len(every)} intervals (goal >= 90%)")
    chose = tally.chose_best
    print(
        f"best-play rate after warm-up: {sum(chose) / len(chose):.1%} of {len(chose)} (goal >= 80%)"
    )
    for label, tie in (("plays far apart", False), ("near tie", True)):
        part = [c for c, t in zip(chose, tally.near_tie, strict=True) if t is tie]
        if part:
            print(f"  {label}: {sum(part) / len(part):.1%} of {len(part)}")
    captured = sum(tally.captured) / sum(tally.best_value)
    print(f"value captured after warm-up: {captured:.1%} of the best play's")
    bias, mae = statistics.fmean(tally.errors), statistics.fmean(abs(e) for e in tally.errors)
    print(
        f"attributed minus true effect on churn: mean {bias:+.3f} points, mean absolute {mae:.3f}"
    )


if __name__ == "__main__":
    main()
