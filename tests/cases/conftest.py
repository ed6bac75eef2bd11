"""Helpers for standing outcomes on the demo workspace (contracts and support tickets)."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import Harness

ONBOARDING = "Every new customer is onboarded within 1 hour of signing"
TICKETS = "Each support ticket gets a first response within 4 hours"
TABLES = ("accounts", "welcome_emails", "kickoffs", "contract_terms")


async def stand(harness: Harness, text: str = ONBOARDING) -> str:
    """State and confirm a standing outcome; returns its id."""
    return await harness.state("olivia", text)


def sign(harness: Harness, customer: str, terms: str = "") -> int:
    now = harness.clock.now().isoformat()
    return harness.business.sign_contract(customer, "team", now, terms=terms)


async def next_poll(harness: Harness) -> None:
    """Let the SQL source's poll interval pass and run what is due."""
    harness.clock.advance(timedelta(seconds=61))
    await harness.runtime.drain()


async def audit_actions(harness: Harness, subject: str) -> list[str]:
    chain = await harness.store.audit_chain("T1")
    return [e.action for e in chain if e.subject == subject]
