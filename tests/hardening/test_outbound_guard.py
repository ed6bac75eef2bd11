"""The smtp connector and the pagers reach only public addresses unless allowed: the
workspace's `allow_private` for smtp, `BATON_PAGER_ALLOW_PRIVATE` for the pagers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from pydantic import ValidationError
from redis.asyncio import Redis

from bot.bootstrap import build_pager
from config.settings import Settings
from orchestrator.connectors import Work
from orchestrator.connectors.guard import AddressRefused, Resolver
from orchestrator.connectors.smtp import SmtpConnector
from orchestrator.errors import ConfigError, ConnectorError
from orchestrator.notify.incidents import Incident
from orchestrator.notify.paging import PagerDutyPager, WebhookPager
from orchestrator.store.delivery_ledger import RedisDeliveryLedger
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Action, Connection
from tests.connectors.servers import Mailbox
from tests.runtime.receiver import PageReceiver, page_receiver

LOOPBACK = ("127.0.0.1/32",)
ENV = {"SMTP_PASSWORD": "pw-guard-3f1e-secret"}
DRAFT = "Subject: Hello\nHi there.\n"
ROWS = [{"email": "a@x.test"}, {"email": "b@x.test"}]
SEND = Action(lane="systems", description="Email them", connection="mail", for_each="rows")
INCIDENT = Incident(
    kind="job_dead_lettered",
    workspace="T1",
    outcome_id="o1",
    what="a tick job was set aside",
    dedup_key="dd-guard-1",
    at=datetime(2026, 1, 5, tzinfo=UTC),
)


class Answers:
    """An injected DNS resolver: the next answer for every lookup, then the last again."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    server = Mailbox()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def ledger(redis: Redis, keys: Keys) -> RedisDeliveryLedger:
    return RedisDeliveryLedger(redis, keys.prefix)


@pytest.fixture
async def receiver() -> AsyncIterator[PageReceiver]:
    async with page_receiver() as running:
        yield running


def relay(url: str, allow: tuple[str, ...] = ()) -> Connection:
    return Connection(
        kind="smtp",
        url=url,
        tls="none",
        sender="crm@x.test",
        password="${SMTP_PASSWORD}",
        retries=0,
        allow_private=allow,
    )


async def send(connector: SmtpConnector, key: str = "s1") -> dict[str, object]:
    return await connector.perform(
        Work(action=SEND, params={"draft": DRAFT}, rows=ROWS, key=key, shadow=False)
    )


async def test_smtp_to_loopback_is_refused_without_the_allow_list(
    mailbox: Mailbox, ledger: RedisDeliveryLedger
) -> None:
    url = f"smtp://127.0.0.1:{mailbox.port}"
    with pytest.raises(AddressRefused) as raised:
        await send(SmtpConnector("mail", relay(url), ENV, ledger))
    message = str(raised.value)
    assert "'mail'" in message and "127.0.0.1 is a loopback address" in message
    assert "allow_private" in message and ENV["SMTP_PASSWORD"] not in message
    assert not raised.value.transient
    assert mailbox.messages == [] and await ledger.states("s1") == {}

    receipt = await send(SmtpConnector("mail", relay(url, LOOPBACK), ENV, ledger))
    assert receipt["sent"] == 2 and len(mailbox.messages) == 2


@pytest.mark.parametrize(
    "host",
    ["169.254.169.254", "[fd00:ec2::254]", "[::1]", "10.1.2.3", "[::ffff:127.0.0.1]", "0.0.0.0"],
)
async def test_smtp_to_private_link_local_and_metadata_addresses_is_refused(
    host: str, ledger: RedisDeliveryLedger
) -> None:
    connector = SmtpConnector("mail", relay(f"smtp://{host}:25"), ENV, ledger)
    with pytest.raises(AddressRefused, match="'mail': refused to connect"):
        await send(connector)
    assert await ledger.states("s1") == {}


async def test_smtp_relay_name_with_any_private_answer_is_refused(
    ledger: RedisDeliveryLedger,
) -> None:
    dns = Answers(["93.184.216.34", "10.9.8.7"])
    connector = SmtpConnector("mail", relay("smtp://mx.example.test:25"), ENV, ledger, resolver=dns)
    with pytest.raises(AddressRefused, match=r"mx\.example\.test \(10\.9\.8\.7 is a private"):
        await send(connector)
    assert dns.asked == ["mx.example.test"]


async def test_smtp_connects_to_the_checked_address_and_checks_each_connection(
    mailbox: Mailbox, ledger: RedisDeliveryLedger
) -> None:
    # `.invalid` never resolves through the system: mail arriving proves the pin.
    dns = Answers(["127.0.0.1"], ["169.254.169.254"])
    url = f"smtp://relay.invalid:{mailbox.port}"
    connector = SmtpConnector("mail", relay(url, LOOPBACK), ENV, ledger, resolver=dns)
    assert (await send(connector, key="s1"))["sent"] == 2
    # The answer changes (DNS rebinding): the next step's connection is refused.
    with pytest.raises(AddressRefused, match=r"relay\.invalid \(169\.254\.169\.254 is a link"):
        await send(connector, key="s2")
    assert dns.asked == ["relay.invalid", "relay.invalid"]
    assert len(mailbox.messages) == 2 and await ledger.states("s2") == {}


async def page(pager: WebhookPager | PagerDutyPager) -> None:
    await pager.page(INCIDENT)


def pagers(
    url: str, allow: tuple[str, ...] = (), resolver: Resolver | None = None
) -> list[WebhookPager | PagerDutyPager]:
    """Both pagers on `url`: the generic webhook and PagerDuty's Events API."""
    return [
        WebhookPager(url + "/hook", allow_private=allow, resolver=resolver),
        PagerDutyPager("R0UTINGKEY", url + "/v2/enqueue", allow_private=allow, resolver=resolver),
    ]


async def test_a_pager_on_a_loopback_address_is_a_config_error_unless_allowed(
    receiver: PageReceiver,
) -> None:
    for make in (
        lambda: WebhookPager(receiver.url + "/hook"),
        lambda: PagerDutyPager("R0UTINGKEY", receiver.url + "/v2/enqueue"),
    ):
        with pytest.raises(ConfigError, match=r"127\.0\.0\.1 is a loopback address.*PRIVATE"):
            make()
    for pager in pagers(receiver.url, LOOPBACK):
        await page(pager)
    assert len(receiver.bodies) == 2


@pytest.mark.parametrize("kind", ["webhook", "pagerduty"])
async def test_a_pager_name_resolving_to_loopback_is_refused_and_nothing_is_sent(
    receiver: PageReceiver, kind: str
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    dns = Answers(["127.0.0.1"])
    webhook, pagerduty = pagers(f"http://pager.invalid:{port}", resolver=dns)
    with pytest.raises(AddressRefused) as raised:
        await page(webhook if kind == "webhook" else pagerduty)
    assert "127.0.0.1 is a loopback address" in str(raised.value)
    assert "BATON_PAGER_ALLOW_PRIVATE" in str(raised.value)
    assert receiver.bodies == [] and dns.asked == ["pager.invalid"]


async def test_a_pager_connects_to_the_checked_address_and_checks_each_page(
    receiver: PageReceiver,
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    dns = Answers(["127.0.0.1"], ["169.254.169.254"])
    pager = WebhookPager(f"http://pager.invalid:{port}/hook", allow_private=LOOPBACK, resolver=dns)
    await page(pager)
    with pytest.raises(AddressRefused, match=r"pager\.invalid \(169\.254\.169\.254 is a link"):
        await page(pager)
    assert len(receiver.bodies) == 1 and dns.asked == ["pager.invalid", "pager.invalid"]


async def test_a_page_logs_nothing_of_the_pager_url(
    receiver: PageReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = "pager-key-5e0c-secret"
    await page(WebhookPager(f"{receiver.url}/hook?key={key}", allow_private=LOOPBACK))
    ours = [r.getMessage() for r in caplog.records if r.name != "aiohttp.access"]
    assert len(receiver.bodies) == 1 and ours  # the receiver's own access log aside
    assert not [line for line in ours if key in line]


@pytest.fixture
async def redirector() -> AsyncIterator[tuple[str, list[str]]]:
    """A local endpoint that answers every POST with a 307 to the metadata address."""
    hits: list[str] = []

    async def go(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPTemporaryRedirect("http://169.254.169.254/latest/meta-data/")

    app = web.Application()
    app.router.add_post("/{tail:.*}", go)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", hits
    await runner.cleanup()


async def test_a_pager_does_not_follow_redirects(redirector: tuple[str, list[str]]) -> None:
    url, hits = redirector
    for pager in pagers(url, ("127.0.0.1/32", "169.254.0.0/16")):
        with pytest.raises(ConnectorError, match=r"HTTP 307: redirects to .* are not followed"):
            await page(pager)
    assert hits == ["/hook", "/v2/enqueue"]


async def test_the_operator_setting_admits_a_local_pager(receiver: PageReceiver) -> None:
    local = Settings(pager_webhook_url=receiver.url + "/hook")
    with pytest.raises(ConfigError, match="BATON_PAGER_ALLOW_PRIVATE"):
        build_pager(local)
    allowed = local.model_copy(update={"pager_allow_private": " 10.0.0.0/8, 127.0.0.1/32 "})
    assert allowed.pager_allowed() == ("10.0.0.0/8", "127.0.0.1/32")
    await build_pager(allowed).page(INCIDENT)
    assert [b["dedup_key"] for b in receiver.bodies] == ["dd-guard-1"]


def test_a_pager_allow_list_entry_that_is_not_a_network_is_refused() -> None:
    with pytest.raises(ValidationError, match="BATON_PAGER_ALLOW_PRIVATE: 'localhost'"):
        Settings(pager_allow_private="127.0.0.1/32,localhost")
