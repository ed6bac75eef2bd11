"""The smtp connector against an aiosmtpd server: one message per recipient, never twice."""

from __future__ import annotations

import asyncio
import email
import ipaddress
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orchestrator.connectors import Work
from orchestrator.connectors.smtp import SmtpConnector
from orchestrator.errors import ConnectorError
from orchestrator.store.delivery_ledger import RedisDeliveryLedger
from orchestrator.workspace.catalog import Action, Connection
from tests.connectors.conftest import ENV
from tests.connectors.servers import Mailbox

DRAFT = "Subject: We miss you\nHi {{ 7*7 }} {% for x in range(9) %}x{% endfor %}\nCome back.\n"
ROWS = [{"email": f"c{i}@x.test"} for i in range(4)]
SEND = Action(lane="systems", description="Email them", connection="mail", for_each="rows")
LOOPBACK = ("127.0.0.1/32",)
"""The local relays listen on loopback, which the outbound guard refuses unless allowed."""


def mail(port: int) -> Connection:
    return Connection(
        kind="smtp",
        url=f"smtp://127.0.0.1:{port}",
        tls="none",
        sender="crm@x.test",
        retries=0,
        allow_private=LOOPBACK,
    )


async def send(
    connector: SmtpConnector, key: str = "s3", shadow: bool = False
) -> dict[str, object]:
    return await connector.perform(
        Work(action=SEND, params={"draft": DRAFT}, rows=ROWS, key=key, shadow=shadow)
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


def certificate(directory: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 and localhost; key and cert in one PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = directory / "relay.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return path


@dataclass
class TlsMailbox(Mailbox):
    """The mailbox behind STARTTLS (required) or implicit TLS; records whether each
    message arrived over an encrypted channel."""

    pem: Path = Path()
    implicit: bool = False
    encrypted: list[bool] = field(default_factory=list)

    async def start(self) -> int:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.pem)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                self,
                hostname="localhost",
                require_starttls=not self.implicit,
                tls_context=None if self.implicit else context,
            ),
            "127.0.0.1",
            0,
            ssl=context if self.implicit else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert server.transport is not None
        channel = server.transport.get_extra_info("ssl_object")
        self.encrypted.append(channel is not None or session.ssl is not None)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
async def relay_pem(tmp_path: Path) -> Path:
    return certificate(tmp_path)


async def relay(pem: Path, implicit: bool) -> TlsMailbox:
    server = TlsMailbox(pem=pem, implicit=implicit)
    await server.start()
    return server


def secure(
    port: int, tls: Literal["starttls", "tls", "none"], host: str = "127.0.0.1"
) -> Connection:
    return Connection(
        kind="smtp",
        url=f"smtp://{host}:{port}",
        tls=tls,
        ca_file="${RELAY_CA}",
        sender="crm@x.test",
        retries=0,
        allow_private=LOOPBACK,
    )


async def pinned_to_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
async def test_sends_encrypted_to_a_relay_with_a_private_ca(
    relay_pem: Path, ledger: RedisDeliveryLedger, implicit: bool
) -> None:
    server = await relay(relay_pem, implicit)
    try:
        spec = secure(server.port, "tls" if implicit else "starttls")
        connector = SmtpConnector("mail", spec, {**ENV, "RELAY_CA": str(relay_pem)}, ledger)
        receipt = await send(connector)
    finally:
        await server.stop()
    assert receipt["sent"] == 4
    assert sorted(r for r, _ in server.messages) == [r["email"] for r in ROWS]
    assert server.encrypted == [True] * 4


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
async def test_tls_verifies_the_relay_name_not_the_address_connected_to(
    relay_pem: Path, ledger: RedisDeliveryLedger, implicit: bool
) -> None:
    """The socket goes to the address the guard checked (127.0.0.1, which the certificate
    also names), yet the certificate must match the URL's host."""
    server = await relay(relay_pem, implicit)
    env = {**ENV, "RELAY_CA": str(relay_pem)}
    tls: Literal["starttls", "tls"] = "tls" if implicit else "starttls"
    try:
        named = secure(server.port, tls, host="localhost")
        connector = SmtpConnector("mail", named, env, ledger, resolver=pinned_to_loopback)
        assert (await send(connector, key="s1"))["sent"] == 4
        other = secure(server.port, tls, host="relay.invalid")
        connector = SmtpConnector("mail", other, env, ledger, resolver=pinned_to_loopback)
        with pytest.raises(ConnectorError, match=r"'mail'.*cannot connect to relay\.invalid"):
            await send(connector, key="s2")
    finally:
        await server.stop()
    assert len(server.messages) == 4 and server.encrypted == [True] * 4
    assert await ledger.states("s2") == {}


async def test_an_untrusted_certificate_is_refused(
    relay_pem: Path, ledger: RedisDeliveryLedger
) -> None:
    server = await relay(relay_pem, implicit=True)
    try:
        spec = Connection(
            kind="smtp",
            url=f"smtp://127.0.0.1:{server.port}",
            tls="tls",
            sender="a@x.test",
            retries=0,
            allow_private=LOOPBACK,
        )
        with pytest.raises(ConnectorError, match=r"'mail'.*cannot connect"):
            await send(SmtpConnector("mail", spec, ENV, ledger))
    finally:
        await server.stop()
    assert server.messages == [] and await ledger.states("s3") == {}


async def test_plain_text_to_a_relay_requiring_starttls_fails_cleanly(
    relay_pem: Path, ledger: RedisDeliveryLedger
) -> None:
    server = await relay(relay_pem, implicit=False)
    try:
        env = {**ENV, "RELAY_CA": str(relay_pem)}
        connector = SmtpConnector("mail", secure(server.port, "none"), env, ledger)
        with pytest.raises(ConnectorError) as raised:
            await send(connector)
    finally:
        await server.stop()
    assert "'mail'" in str(raised.value) and "530" in str(raised.value)
    assert not raised.value.transient
    assert server.messages == [] and await ledger.states("s3") == {}
