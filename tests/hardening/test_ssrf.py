"""The http and webhook connectors reach only public addresses unless the workspace allows."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from orchestrator.connectors import Work
from orchestrator.connectors.guard import AddressGuard, AddressRefused
from orchestrator.connectors.http import HttpConnector
from orchestrator.connectors.webhook import WebhookConnector
from orchestrator.errors import ConnectorError
from orchestrator.models import Direction
from orchestrator.workspace.catalog import Action, Connection, HttpAuth, Metric

TOKEN = "tok-ssrf-5d1c-secret"
KEY = "key-ssrf-77aa-secret"
ENV = {"API_TOKEN": TOKEN, "API_KEY": KEY, "HOOK_SECRET": "whsec-ssrf-secret"}
LOOPBACK = ("127.0.0.1/32",)
METRIC = Metric(connection="api", query="$.value", url="/metric", direction=Direction.DECREASE)
HOOK = Action(lane="systems", description="Tell the CRM", connection="hook")


@dataclass
class Site:
    """A local API whose `/metric` answers and whose `/go?to=` redirects (307)."""

    url: str = ""
    hits: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    async def metric(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        self.headers.append(dict(request.headers))
        return web.json_response({"value": 3.5})

    async def go(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        raise web.HTTPTemporaryRedirect(request.query["to"])


@pytest.fixture
async def sites() -> AsyncIterator[tuple[Site, Site]]:
    """Two sites on loopback (different ports: different origins)."""
    runners, made = [], []
    for _ in range(2):
        site = Site()
        app = web.Application()
        app.router.add_get("/metric", site.metric)
        app.router.add_route("*", "/go", site.go)
        app.router.add_post("/metric", site.metric)
        runner = web.AppRunner(app)
        await runner.setup()
        tcp = web.TCPSite(runner, "127.0.0.1", 0)
        await tcp.start()
        site.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        runners.append(runner)
        made.append(site)
    yield made[0], made[1]
    for runner in runners:
        await runner.cleanup()


def api(url: str, allow: tuple[str, ...] = (), **extra: object) -> Connection:
    return Connection(
        kind="http",
        url=url,
        auth=HttpAuth(bearer="${API_TOKEN}"),
        retries=0,
        allow_private=allow,
        **extra,
    )


class Answers:
    """An injected DNS resolver: the next answer for every lookup, then the last again."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def measure(connector: HttpConnector) -> float:
    try:
        return await connector.measure(metric=METRIC)
    finally:
        await connector.close()


async def test_loopback_is_refused_without_the_allow_list(sites: tuple[Site, Site]) -> None:
    site, _ = sites
    with pytest.raises(AddressRefused) as raised:
        await measure(HttpConnector("api", api(site.url), ENV))
    message = str(raised.value)
    assert "'api'" in message and "127.0.0.1 is a loopback address" in message
    assert "allow_private" in message and TOKEN not in message
    assert site.hits == [] and not raised.value.transient
    assert await measure(HttpConnector("api", api(site.url, LOOPBACK), ENV)) == 3.5


BLOCKED = [
    "169.254.169.254",
    "[fd00::1]",
    "[fd00:ec2::254]",
    "[::1]",
    "0.0.0.0",
    "[::]",
    "10.1.2.3",
    "192.168.0.10",
    "172.16.5.4",
    "100.100.100.200",
    "[::ffff:127.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[64:ff9b::a9fe:a9fe]",
    "[fe80::1]",
    "224.0.0.1",
]


@pytest.mark.parametrize("host", BLOCKED)
async def test_private_link_local_and_metadata_addresses_are_refused(host: str) -> None:
    with pytest.raises(AddressRefused, match="'api': refused to connect"):
        await measure(HttpConnector("api", api(f"http://{host}:9"), ENV))


def test_the_allow_list_sees_through_ipv4_mapped_addresses() -> None:
    guard = AddressGuard("api", LOOPBACK)
    assert guard.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) == ""
    assert guard.refusal(ipaddress.ip_address("::ffff:169.254.169.254")) != ""
    assert guard.refusal(ipaddress.ip_address("127.0.0.2")) == "a loopback address"
    assert guard.refusal(ipaddress.ip_address("93.184.216.34")) == ""


def test_an_allow_list_entry_that_is_not_a_network_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="allow_private: 'localhost' is not a network"):
        api("http://x", ("localhost",))


async def test_a_redirect_to_a_private_address_is_refused(sites: tuple[Site, Site]) -> None:
    site, _ = sites
    metric = METRIC.model_copy(update={"url": "/go?to=http%3A//169.254.169.254/latest/meta-data/"})
    connector = HttpConnector("api", api(site.url, LOOPBACK), ENV)
    try:
        with pytest.raises(AddressRefused, match=r"169\.254\.169\.254 is a link-local"):
            await connector.measure(metric=metric)
    finally:
        await connector.close()
    assert site.hits == ["/go"]


async def test_a_webhook_redirected_to_a_private_address_is_refused(
    sites: tuple[Site, Site],
) -> None:
    site, _ = sites
    url = site.url + "/go?to=http://10.0.0.7/hook"
    hook = Connection(kind="webhook", url=url, secret="${HOOK_SECRET}", allow_private=LOOPBACK)
    connector = WebhookConnector("hook", hook, ENV)
    try:
        with pytest.raises(AddressRefused, match=r"'hook'.*10\.0\.0\.7 is a private address"):
            await connector.perform(Work(action=HOOK, params={}, rows=[], key="s1", shadow=False))
    finally:
        await connector.close()


async def test_an_allowed_redirect_to_another_origin_carries_no_credentials(
    sites: tuple[Site, Site],
) -> None:
    first, second = sites
    metric = METRIC.model_copy(update={"url": f"/go?to={second.url}/metric"})
    connection = Connection(
        kind="http",
        url=first.url,
        auth=HttpAuth(header="X-Api-Key", value="${API_KEY}"),
        allow_private=LOOPBACK,
    )
    connector = HttpConnector("api", connection, ENV)
    try:
        assert await connector.measure(metric=metric) == 3.5
    finally:
        await connector.close()
    assert second.hits == ["/metric"] and "X-Api-Key" not in second.headers[0]


async def test_a_name_that_resolves_to_a_private_address_is_refused() -> None:
    dns = Answers(["93.184.216.34", "10.9.8.7"])
    connector = HttpConnector("api", api("http://crm.example.test"), ENV, resolver=dns)
    with pytest.raises(AddressRefused, match=r"crm\.example\.test \(10\.9\.8\.7 is a private"):
        await measure(connector)
    assert dns.asked == ["crm.example.test"]


async def test_the_checked_address_is_the_one_connected_to(sites: tuple[Site, Site]) -> None:
    site, _ = sites
    port = site.url.rsplit(":", 1)[1]
    # `.invalid` never resolves through the system: reaching the site proves the pin.
    dns = Answers(["127.0.0.1"], ["169.254.169.254"])
    connection = api(f"http://pinned.invalid:{port}", LOOPBACK, headers={"Connection": "close"})
    connector = HttpConnector("api", connection, ENV, resolver=dns)
    try:
        assert await connector.measure(metric=METRIC) == 3.5
        # The answer changes (DNS rebinding): the next connection is checked again.
        with pytest.raises(AddressRefused, match=r"169\.254\.169\.254"):
            await connector.measure(metric=METRIC)
    finally:
        await connector.close()
    assert dns.asked == ["pinned.invalid", "pinned.invalid"]
    assert site.headers[0]["Host"] == f"pinned.invalid:{port}"


async def test_a_name_that_does_not_resolve_is_transient() -> None:
    async def nothing(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    connector = HttpConnector("api", api("http://gone.example.test"), ENV, resolver=nothing)
    with pytest.raises(ConnectorError) as raised:
        await measure(connector)
    assert raised.value.transient and "cannot resolve gone.example.test" in str(raised.value)
