"""Evidence pooling and the playbook choice: inverse-variance pooling across outcomes, and
Thompson sampling that follows the evidence yet still tries a play with none."""

from __future__ import annotations

import math
import random
from collections import Counter

from orchestrator.learning.choice import choose, play_cost
from orchestrator.learning.estimate import Z95
from orchestrator.learning.evidence import Evidence, Key, entries, pool
from orchestrator.models import Direction, Effect, Lane, Step, StepStatus
from orchestrator.workspace.catalog import Workspace
from tests.conftest import START


def measured(step_id: str, action: str, on_metric: float, half: float, **params: int) -> Step:
    effect = Effect(
        status="measured", treated=50, control=6, per_entity=0.0, low=0.0, high=0.0,
        on_metric=on_metric, metric_low=on_metric - half, metric_high=on_metric + half,
    )  # fmt: skip
    return Step(
        id=step_id, outcome_id=f"o{step_id}", workspace="T1", action=action, lane=Lane.SYSTEMS,
        params=dict(params), created_at=START, status=StepStatus.SUCCEEDED, incremental=effect,
    )  # fmt: skip


def test_estimates_pool_by_inverse_variance() -> None:
    steps = [measured("1", "send_winback", -1.0, 0.5), measured("2", "send_winback", -2.0, 1.0)]
    (found,) = pool(entries(steps, "churn_rate")).values()
    # Per 100 treated: -2 (se 1/Z95*2) and -4 (se 2/Z95*2), weights 4:1.
    se1, se2 = 0.5 / Z95 * 2, 1.0 / Z95 * 2
    w1, w2 = 1 / se1**2, 1 / se2**2
    assert math.isclose(found.effect, (w1 * -2 + w2 * -4) / (w1 + w2))
    assert math.isclose(found.se, math.sqrt(1 / (w1 + w2)))
    assert found.se < se1 and found.runs == 2 and found.treated == 100


def test_parameters_and_unmeasured_steps_are_kept_apart() -> None:
    not_enough = measured("3", "offer_discount", 0.0, 0.0, percent=10).model_copy(
        update={"incremental": Effect(status="not_enough_data", treated=3, control=1)}
    )
    steps = [
        measured("1", "offer_discount", -1.0, 0.5, percent=10),
        measured("2", "offer_discount", -3.0, 0.5, percent=20),
        not_enough,
    ]
    keys = set(pool(entries(steps, "churn_rate")))
    assert keys == {
        Key("offer_discount", '{"percent": 10}', "churn_rate"),
        Key("offer_discount", '{"percent": 20}', "churn_rate"),
    }


def evidence(effect: float, se: float, action: str, params: str = "") -> dict[Key, Evidence]:
    key = Key(action, params, "churn_rate")
    return {key: Evidence(key, 3, effect, effect - Z95 * se, effect + Z95 * se, 150, 18)}


def picks(
    workspace: Workspace,
    found: dict[Key, Evidence],
    draws: int = 300,
    names: tuple[str, ...] = ("win_back", "discount_10"),
) -> Counter[str]:
    plays = [p for p in workspace.playbooks["churn_rate"] if p.name in names]
    return Counter(
        choose(
            plays, metric="churn_rate", direction=Direction.DECREASE, workspace=workspace,
            evidence=found, rng=random.Random(n),
        ).name
        for n in range(draws)
    )  # fmt: skip


def test_with_no_evidence_the_playbook_order_decides(workspace: Workspace) -> None:
    assert picks(workspace, {}) == Counter({"win_back": 300})


def test_thompson_sampling_follows_the_evidence_and_still_explores(workspace: Workspace) -> None:
    # Measured as clearly harmful: the discount, with no evidence, is tried instead
    # whenever its draw says it helps at all.
    harmful = picks(workspace, evidence(+2.0, 0.3, "send_winback"))
    assert harmful["discount_10"] > 100
    # Measured as good: mostly chosen; a free play with no evidence is still tried.
    good = picks(
        workspace, evidence(-8.0, 0.5, "send_winback"), names=("win_back", "account_managers")
    )
    assert good["win_back"] > 150 and good["account_managers"] > 10


def test_cost_weighs_in(workspace: Workspace) -> None:
    plays = {p.name: p for p in workspace.playbooks["churn_rate"]}
    assert play_cost(plays["win_back"], workspace) == 0
    assert play_cost(plays["discount_10"], workspace) == 300  # 10% of 30 for 100 customers
    # Same measured effect: the free play wins nearly always.
    both = {
        **evidence(-5.0, 0.3, "send_winback"),
        **evidence(-5.0, 0.3, "offer_discount", '{"percent": 10}'),
    }
    assert picks(workspace, both)["win_back"] > 290
