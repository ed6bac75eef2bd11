"""The smtp connector against an aiosmtpd server: one message per recipient, never twice."""

from __future__ import annotations

import email

import pytest

from orchestrator.catalog import Action, Connection
from orchestrator.connectors.ledger import RedisDeliveryLedger
from orchestrator.connectors.smtp import SmtpConnector
from orchestrator.errors import ConnectorError
from tests.connectors.conftest import ENV
from tests.connectors.servers import Mailbox

DRAFT = "Subject: We miss you\nHi {{ 7*7 }} {% for x in range(9) %}x{% endfor %}\nCome back.\n"
ROWS = [{"email": f"c{i}@x.test"} for i in range(4)]
SEND = Action(lane="systems", description="Email them", connection="mail", for_each="rows")


def mail(port: int) -> Connection:
    return Connection(
        kind="smtp", url=f"smtp://127.0.0.1:{port}", tls="none", sender="crm@x.test", retries=0
    )


async def send(
    connector: SmtpConnector, key: str = "s3", shadow: bool = False
) -> dict[str, object]:
    return await connector.perform(
        action=SEND, params={"draft": DRAFT}, rows=ROWS, key=key, shadow=shadow
    )


async def test_one_message_per_recipient_and_the_draft_is_not_rendered(
    mailbox: Mailbox, ledger: RedisDeliveryLedger
) -> None:
    receipt = await send(SmtpConnector("mail", mail(mailbox.port), ENV, ledger))
    assert receipt["sent"] == 4
    message = email.message_from_bytes(mailbox.to("c0@x.test")[0])
    assert message["Subject"] == "We miss you" and message["To"] == "c0@x.test"
    assert "{{ 7*7 }}" in message.get_payload() and "49" not in message.get_payload()
    assert len({email.message_from_bytes(m)["Message-ID"] for _, m in mailbox.messages}) == 4


async def test_a_deferral_mid_batch_retries_without_emailing_anyone_twice(
    mailbox: Mailbox, ledger: RedisDeliveryLedger
) -> None:
    mailbox.defer_once = {"c2@x.test"}
    connector = SmtpConnector("mail", mail(mailbox.port), ENV, ledger)
    with pytest.raises(ConnectorError) as raised:
        await send(connector)
    assert raised.value.transient and "'mail'" in str(raised.value)
    receipt = await send(connector)
    assert receipt["skipped"] == 2 and receipt["sent"] == 2
    assert sorted(r for r, _ in mailbox.messages) == [r["email"] for r in ROWS]


async def test_a_lost_answer_is_never_sent_again(
    mailbox: Mailbox, ledger: RedisDeliveryLedger
) -> None:
    mailbox.drop_after_data = {"c1@x.test"}
    connector = SmtpConnector("mail", mail(mailbox.port), ENV, ledger)
    with pytest.raises(ConnectorError, match="dropped"):
        await send(connector)
    receipt = await send(connector)
    assert receipt["unconfirmed"] == 1 and receipt["unconfirmed_recipients"] == ["c1@x.test"]
    assert len(mailbox.to("c1@x.test")) == 1 and len(mailbox.messages) == 4


async def test_shadow_returns_the_email_and_sends_nothing(mailbox: Mailbox) -> None:
    receipt = await send(SmtpConnector("mail", mail(mailbox.port), ENV), shadow=True)
    assert mailbox.messages == []
    assert receipt["executions"] == 4 and receipt["recipients"] == [r["email"] for r in ROWS]
    assert receipt["email"] == {
        "from": "crm@x.test",
        "subject": "We miss you",
        "body": DRAFT.split("\n", 1)[1],
    }


async def test_server_down_is_transient(mailbox: Mailbox, ledger: RedisDeliveryLedger) -> None:
    await mailbox.stop()
    connector = SmtpConnector("mail", mail(mailbox.port), ENV, ledger)
    with pytest.raises(ConnectorError) as raised:
        await send(connector)
    assert raised.value.transient and "cannot connect" in str(raised.value)
    assert await ledger.states("s3") == {}


async def test_without_a_ledger_it_refuses_to_send(mailbox: Mailbox) -> None:
    with pytest.raises(ConnectorError, match="ledger"):
        await send(SmtpConnector("mail", mail(mailbox.port), ENV))
    assert mailbox.messages == []
