"""The webhook connector: signed, keyed by step id, verified by the receiving side."""

from __future__ import annotations

import pytest

from orchestrator.connectors import Work
from orchestrator.connectors.webhook import WebhookConnector
from orchestrator.errors import ConnectorError
from orchestrator.workspace.catalog import Action, Connection
from tests.connectors.conftest import ENV, SIGNING
from tests.connectors.servers import Receiver

ACTION = Action(lane="systems", description="Tell the CRM", connection="hook")


def hook(url: str) -> Connection:
    return Connection(
        kind="webhook",
        url=url + "/hooks/crm",
        secret="${HOOK_SECRET}",
        retries=0,
        allow_private=("127.0.0.1/32",),
    )


async def test_signed_post_with_the_step_id_as_idempotency_key(receiver: Receiver) -> None:
    connector = WebhookConnector("hook", hook(receiver.url), ENV)
    try:
        receipt = await connector.perform(
            Work(
                action=ACTION,
                params={"draft": "hi {{ 7*7 }}"},
                rows=[{"id": 1}],
                key="s4",
                shadow=False,
            )
        )
    finally:
        await connector.close()
    assert receipt["sent"] == 1 and receiver.bad_signatures == 0
    body = receiver.accepted["s4"]["json"]
    assert body["params"] == {"draft": "hi {{ 7*7 }}"} and body["rows"] == [{"id": 1}]


async def test_a_wrong_secret_is_refused_by_the_receiver(receiver: Receiver) -> None:
    connector = WebhookConnector("hook", hook(receiver.url), {**ENV, "HOOK_SECRET": "nope"})
    try:
        with pytest.raises(ConnectorError, match="401"):
            await connector.perform(Work(action=ACTION, params={}, rows=[], key="s5", shadow=False))
    finally:
        await connector.close()
    assert receiver.bad_signatures == 1 and receiver.accepted == {}


async def test_outage_then_retry_delivers_once(receiver: Receiver) -> None:
    receiver.fail_next = 2
    connector = WebhookConnector("hook", hook(receiver.url), ENV)
    try:
        for _ in range(2):
            with pytest.raises(ConnectorError) as raised:
                await connector.perform(
                    Work(action=ACTION, params={}, rows=[], key="s6", shadow=False)
                )
            assert raised.value.transient
        await connector.perform(Work(action=ACTION, params={}, rows=[], key="s6", shadow=False))
    finally:
        await connector.close()
    assert receiver.deliveries == ["s6", "s6", "s6"] and list(receiver.accepted) == ["s6"]


@pytest.mark.parametrize("key", ["case:TCK\r\nX-Injected: 1:s1", "case:TCK\x01:s1", "case:€1:s1"])
async def test_a_header_the_client_cannot_send_fails_at_once_and_sends_nothing(
    receiver: Receiver, key: str
) -> None:
    connector = WebhookConnector("hook", hook(receiver.url), ENV)
    try:
        with pytest.raises(ConnectorError, match="header Idempotency-Key cannot be sent") as raised:
            await connector.perform(Work(action=ACTION, params={}, rows=[], key=key, shadow=False))
    finally:
        await connector.close()
    assert not raised.value.transient  # retrying would be refused the same way
    assert receiver.deliveries == []


async def test_shadow_shows_the_signed_request_without_the_secret(receiver: Receiver) -> None:
    connector = WebhookConnector("hook", hook(receiver.url), ENV)
    try:
        receipt = await connector.perform(
            Work(action=ACTION, params={}, rows=[], key="s7", shadow=True)
        )
    finally:
        await connector.close()
    assert receiver.deliveries == [] and SIGNING not in str(receipt)
    request = receipt["requests"][0]
    assert request["headers"]["Idempotency-Key"] == "s7"
    assert request["headers"]["X-Baton-Signature"].startswith("sha256=")


def test_a_literal_secret_is_refused_at_load() -> None:
    with pytest.raises(ValueError, match="ENV_VAR"):
        Connection(kind="webhook", url="http://x", secret="literal-secret")
