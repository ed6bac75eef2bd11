"""Each notice kind's typed payload reads the JSON notices were queued with before payloads
were typed, so a notice waiting in Redis across an upgrade still decodes and renders; one
that does not validate fails as any job fails (retried, then set aside)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from handlers import texts
from handlers.notifier import _delivery_id
from orchestrator.models import ConversationRef, Outcome
from orchestrator.notify.notices import PAYLOADS, ChatData, Notice, NoticeKind
from orchestrator.runtime.messages import Notify
from orchestrator.runtime.queue import encode
from tests.conftest import CHANNEL, Harness

CONVERSATION = {"platform": "test", "workspace": "T1", "channel": "C1", "thread": None}
EVALUATION = {"value": 7.1, "expected": 6.8, "progress": 0.45, "verdict": "at_risk"}
SESSION: dict[str, Any] = {
    "id": "i1",
    "workspace": "T1",
    "conversation": CONVERSATION,
    "owner": "olivia",
    "draft": {
        "text": "Cut monthly churn",
        "metric": None,
        "metric_candidates": [],
        "direction": None,
        "change": None,
        "amount": None,
        "stated_baseline": None,
        "deadline": None,
        "deadline_phrase": "",
        "deadline_invalid": False,
        "budget": None,
        "approvers": [],
        "shadow": False,
        "sla_s": None,
        "case_source": None,
        "case_playbook": None,
    },
    "asking": "metric",
    "problem": None,
    "problem_detail": "",
    "model_down": "",
    "baseline": None,
    "target": None,
    "direction": None,
    "ready": False,
    "interpreted": False,
}
CASES = {
    "done": 4,
    "within": 3,
    "failed": 1,
    "open": 2,
    "overdue": 0,
    "share": 75.0,
    "median_s": 3600.0,
    "p95_s": None,
}

QUEUED: list[tuple[NoticeKind, dict[str, Any]]] = [
    (NoticeKind.INTAKE, {"session": SESSION}),
    (NoticeKind.STARTED, {}),  # the progress message, drawn from the outcome alone
    (NoticeKind.PROGRESS, {"evaluation": EVALUATION}),
    (NoticeKind.PROGRESS, {"evaluation": EVALUATION, "cases": CASES}),
    (
        NoticeKind.PLAN,
        {
            "steps": ["s1", "s2"],
            "play": "win_back",
            "rationale": "At-risk accounts answer a personal offer",
            "verdict": "at_risk",
            "around": ["s0"],
        },
    ),
    (NoticeKind.ENDED, {"evaluation": EVALUATION}),
    (NoticeKind.INCIDENT, {"incident": "metric_source_down", "failures": 3}),
    (NoticeKind.INCIDENT, {"incident": "action_failing", "step": "s1"}),
    (NoticeKind.INCIDENT, {"incident": "case_failed", "case": "c1"}),
    (NoticeKind.INCIDENT, {"incident": "llm_unavailable"}),
    (NoticeKind.INCIDENT, {"incident": "llm_invalid_plans", "failures": 3}),
    (
        NoticeKind.INCIDENT,
        {"incident": "sla_at_risk", "dedup_key": "baton:sla_at_risk:c1", "case": "c1"},
    ),
    (
        NoticeKind.INCIDENT,
        {"incident": "chat_unavailable", "dedup_key": "baton:chat_unavailable:x", "paged": True},
    ),
    (NoticeKind.CHAT, {"case": "c1"}),
    (NoticeKind.CONTROL, {"by": "olivia", "status": "paused"}),
    (NoticeKind.APPROVAL_REMINDER, {"stand_ins": "bob for alice"}),
    (NoticeKind.APPROVAL_ESCALATED, {"to": "carol"}),
    (NoticeKind.DIGEST, {"outcomes": ["o1", "o2"], "since": "2027-01-04T09:00:00+00:00"}),
]
"""A notice of every kind that carries data, as the previous version queued it."""


def queued(kind: NoticeKind, data: dict[str, Any], outcome_id: str | None = "o1") -> dict[str, Any]:
    """A notice job's payload in the previous version's shape."""
    return {
        "id": uuid.uuid4().hex,
        "kind": kind.value,
        "conversation": CONVERSATION,
        "outcome_id": outcome_id,
        "step_id": None,
        "approval_id": None,
        "text": "",
        "data": data,
    }


def test_every_kind_that_carries_data_is_covered() -> None:
    carrying = {kind for kind, shape in PAYLOADS.items() if shape.model_fields}
    assert {kind for kind, _ in QUEUED} == carrying


@pytest.mark.parametrize(
    ("kind", "data"), QUEUED, ids=[f"{k.value}-{i}" for i, (k, _) in enumerate(QUEUED)]
)
def test_a_queued_notice_decodes_to_its_kinds_payload(
    kind: NoticeKind, data: dict[str, Any]
) -> None:
    payload = queued(kind, data)
    notice = Notice.model_validate(json.loads(json.dumps(payload)))
    assert type(notice.data) is PAYLOADS[kind]
    # Queued again, it says what it said, in the same words.
    assert notice.model_dump(mode="json") == payload
    assert json.loads(notice.model_dump_json())["data"] == data


@pytest.mark.parametrize(
    ("kind", "data"), QUEUED, ids=[f"{k.value}-{i}" for i, (k, _) in enumerate(QUEUED)]
)
def test_a_notice_queued_before_notices_had_ids_keeps_its_delivery_name(
    kind: NoticeKind, data: dict[str, Any]
) -> None:
    said = {k: v for k, v in queued(kind, data).items() if k != "id"}
    # The name the previous version made of what such a notice says.
    before = json.dumps(said, separators=(",", ":"), ensure_ascii=False)
    name = hashlib.sha1(before.encode(), usedforsecurity=False).hexdigest()[:24]
    assert _delivery_id(Notice.model_validate(said)) == name


def test_kinds_without_data_carry_nothing() -> None:
    for kind, shape in PAYLOADS.items():
        if not shape.model_fields:
            assert Notice.model_validate(queued(kind, {})).model_dump(mode="json")["data"] == {}


def test_a_payload_that_does_not_fit_its_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="status"):
        Notice.model_validate(queued(NoticeKind.CONTROL, {"by": "olivia"}))
    with pytest.raises(ValueError, match="extra"):
        Notice.model_validate(queued(NoticeKind.APPROVAL_DECIDED, {"by": "olivia"}))
    with pytest.raises(ValueError, match="carries ControlData"):
        Notice(
            kind=NoticeKind.CONTROL, conversation=ConversationRef(**CONVERSATION), data=ChatData()
        )


def _here(outcome: Outcome, kind: NoticeKind, data: dict[str, Any]) -> dict[str, Any]:
    payload = queued(kind, data, outcome.id)
    return {**payload, "conversation": outcome.conversation.model_dump(mode="json")}


async def test_notices_queued_before_an_upgrade_are_delivered(harness: Harness) -> None:
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    outcome = await harness.store.outcome(outcome_id)
    steps = [s.id for s in await harness.store.steps(outcome_id)]
    since = (harness.clock.now() - timedelta(days=7)).isoformat()
    session = {**SESSION, "workspace": CHANNEL.workspace}
    waiting = [
        _here(outcome, NoticeKind.INTAKE, {"session": session}),
        _here(outcome, NoticeKind.PROGRESS, {"evaluation": EVALUATION}),
        _here(
            outcome,
            NoticeKind.PLAN,
            {
                "steps": steps,
                "play": "win_back",
                "rationale": "",
                "verdict": "at_risk",
                "around": [],
            },
        ),
        _here(outcome, NoticeKind.CONTROL, {"by": "olivia", "status": "paused"}),
        _here(outcome, NoticeKind.INCIDENT, {"incident": "metric_source_down", "failures": 3}),
        _here(outcome, NoticeKind.DIGEST, {"outcomes": [outcome_id], "since": since}),
    ]
    before = len(harness.gateway.sent)
    for payload in waiting:
        await _queue_as_before(harness, payload)
    await harness.runtime.drain()

    titles = harness.gateway.titles()[before:]
    assert texts.QUESTIONS["metric"].split("{")[0] in "\n".join(titles)
    assert texts.PLAN_TITLE.format(outcome=outcome_id, play="win_back") in titles
    assert texts.CONTROL_DONE.format(id=outcome_id, status="paused") in titles
    assert texts.INCIDENT_TITLE.format(id=outcome_id, kind="metric_source_down") in titles
    assert any(t.startswith("Weekly digest") for t in titles)
    assert await harness.runtime.ctx.queue.dead() == 0


async def test_a_notice_that_does_not_validate_is_retried_then_set_aside(harness: Harness) -> None:
    queue, worker = harness.runtime.ctx.queue, harness.runtime.worker
    await _queue_as_before(harness, queued(NoticeKind.CONTROL, {"by": "olivia"}))
    for _ in range(worker.max_attempts):
        await harness.runtime.drain()
        harness.clock.advance(timedelta(minutes=10))
    await harness.runtime.drain()
    assert await queue.dead() == 1 and await queue.pending() == 0
    # The worker carries on with the next notice.
    good = queued(NoticeKind.CHAT, {}, None) | {"text": "still here"}
    await _queue_as_before(harness, good)
    await harness.runtime.drain()
    assert harness.gateway.titles()[-1] == "still here"


async def _queue_as_before(harness: Harness, notice: dict[str, Any]) -> None:
    """A notify job as the previous version wrote it to the stream: its JSON, unchecked."""
    keys = harness.runtime.ctx.keys
    await harness.store.redis.xadd(keys.jobs(), {"job": encode(Notify.KIND, notice)})
