"""Every incident's runbook link leads somewhere: the chat footer's anchor (the section's
heading) and the page's (a hyphenated id) both exist in RUNBOOK.md, the model's three
incidents among them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers import texts
from orchestrator.notify.incidents import Incident, IncidentKind
from tests.conftest import START

RUNBOOK = Path(__file__).resolve().parents[2] / "RUNBOOK.md"
MODEL_KINDS = ("llm_unavailable", "llm_invalid_plans", "llm_budget")


def anchors() -> set[str]:
    """The anchors GitHub makes of RUNBOOK.md: explicit ids and `## ` headings."""
    text = RUNBOOK.read_text(encoding="utf-8")
    found = set(re.findall(r'<a id="([^"]+)"></a>', text))
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    found |= {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}
    return found


@pytest.mark.parametrize("kind", [*MODEL_KINDS, *(k.value for k in IncidentKind)])
def test_the_chat_footer_and_the_page_link_to_a_section(kind: str) -> None:
    footer = texts.INCIDENT_RUNBOOK.format(kind=kind)
    page = Incident(
        kind=kind, workspace="T1", outcome_id=None, what="x", dedup_key=kind, at=START
    ).runbook
    for link in (footer, page):
        assert link.split("#", 1)[1] in anchors(), link
