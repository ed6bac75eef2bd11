"""The http connector against a real local server."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.connectors import Work
from orchestrator.connectors.http import HttpConnector
from orchestrator.errors import ConnectorError
from orchestrator.models import Direction
from orchestrator.store.delivery_ledger import RedisDeliveryLedger
from orchestrator.workspace.catalog import Action, Connection, HttpAuth, Metric
from tests.connectors.conftest import ENV, TOKEN
from tests.connectors.servers import Receiver

ROWS = [{"customer_id": 1, "email": "a@x.test"}, {"customer_id": 2, "email": "b@x.test"}]
INJECTION = 'Hi "}, "admin": true, {{ 7*7 }} {% raw %}{{ config }}{% endraw %} ../../admin?x=1'


def api(url: str, **extra: object) -> Connection:
    return Connection(
        kind="http",
        url=url,
        auth=HttpAuth(bearer="${API_TOKEN}"),
        retries=0,
        allow_private=("127.0.0.1/32",),
        **extra,
    )


def metric(path: str = "$.data.churn.value") -> Metric:
    return Metric(connection="api", query=path, url="/metrics/churn", direction=Direction.DECREASE)


def tag_action() -> Action:
    return Action(
        lane="systems",
        description="Tag customers",
        connection="api",
        url="/customers/{{ row.customer_id }}/tags",
        for_each="rows",
        body={"tag": "winback", "note": "{{ params.draft }}", "id": "{{ row.customer_id }}"},
    )


async def test_measures_by_json_path_with_a_bearer_token(receiver: Receiver) -> None:
    connector = HttpConnector("api", api(receiver.url), ENV)
    try:
        assert await connector.measure(metric=metric()) == 4.25
        with pytest.raises(ConnectorError, match="matched 0 values"):
            await connector.measure(metric=metric("$.data.missing"))
    finally:
        await connector.close()
    assert receiver.unauthorised == 0


async def test_wrong_token_is_an_error_that_never_shows_the_token(receiver: Receiver) -> None:
    connector = HttpConnector("api", api(receiver.url), {**ENV, "API_TOKEN": "wrong-token-x"})
    try:
        with pytest.raises(ConnectorError) as raised:
            await connector.measure(metric=metric())
    finally:
        await connector.close()
    assert "'api'" in str(raised.value) and "401" in str(raised.value)
    assert "wrong-token-x" not in str(raised.value) and not raised.value.transient


async def test_one_request_per_row_each_once_and_data_stays_data(
    receiver: Receiver, ledger: RedisDeliveryLedger
) -> None:
    connector = HttpConnector("api", api(receiver.url), ENV, ledger)
    try:
        work = Work(
            action=tag_action(), params={"draft": INJECTION}, rows=ROWS, key="s7", shadow=False
        )
        receipt = await connector.perform(work)
        again = await connector.perform(work)
    finally:
        await connector.close()
    assert receipt["sent"] == 2 and again == {**again, "sent": 0, "skipped": 2}
    assert sorted(receiver.accepted) == ["s7:0", "s7:1"]
    first = receiver.accepted["s7:0"]
    assert first["path"] == "/customers/1/tags"
    # The draft arrives verbatim as one string: no new keys, nothing evaluated.
    assert first["json"] == {"tag": "winback", "note": INJECTION, "id": 1}


async def test_data_cannot_change_the_url(receiver: Receiver) -> None:
    action = tag_action().model_copy(
        update={"for_each": None, "url": "/c/{{ params.draft }}", "body": None}
    )
    connector = HttpConnector("api", api(receiver.url), ENV)
    try:
        await connector.perform(
            Work(
                action=action, params={"draft": "../../admin?x=1"}, rows=[], key="s8", shadow=False
            )
        )
    finally:
        await connector.close()
    assert receiver.accepted["s8"]["path"] == "/c/..%2F..%2Fadmin%3Fx%3D1"


async def test_shadow_says_exactly_what_it_would_send_and_sends_nothing(
    receiver: Receiver,
) -> None:
    connector = HttpConnector("api", api(receiver.url), ENV)
    try:
        receipt = await connector.perform(
            Work(action=tag_action(), params={"draft": "hello"}, rows=ROWS, key="s9", shadow=True)
        )
    finally:
        await connector.close()
    assert receiver.deliveries == []
    assert receipt["shadow"] and receipt["executions"] == 2
    first = receipt["requests"][0]
    assert first["method"] == "POST" and first["url"] == f"{receiver.url}/customers/1/tags"
    assert first["json"] == {"tag": "winback", "note": "hello", "id": 1}
    assert first["headers"]["Idempotency-Key"] == "s9:0"
    assert TOKEN not in str(receipt) and first["headers"]["Authorization"] == "Bearer ***"


async def test_outage_mid_batch_is_transient_and_the_retry_sends_only_the_rest(
    receiver: Receiver, ledger: RedisDeliveryLedger
) -> None:
    connector = HttpConnector("api", api(receiver.url), ENV, ledger)
    rows: list[dict[str, Any]] = [*ROWS, {"customer_id": 3}]
    try:
        await connector.perform(
            Work(action=tag_action(), params={"draft": ""}, rows=rows[:1], key="s10", shadow=False)
        )
        receiver.fail_next = 1
        with pytest.raises(ConnectorError) as raised:
            await connector.perform(
                Work(action=tag_action(), params={"draft": ""}, rows=rows, key="s10", shadow=False)
            )
        assert raised.value.transient and "503" in str(raised.value)
        receipt = await connector.perform(
            Work(action=tag_action(), params={"draft": ""}, rows=rows, key="s10", shadow=False)
        )
    finally:
        await connector.close()
    assert receipt["skipped"] == 1 and receipt["sent"] == 2
    assert sorted(receiver.accepted) == ["s10:0", "s10:1", "s10:2"]
    assert receiver.deliveries.count("s10:0") == 1


async def test_server_down_is_transient_and_names_the_connection(receiver: Receiver) -> None:
    url = receiver.url
    await receiver.stop()
    connector = HttpConnector("api", api(url), ENV)
    try:
        with pytest.raises(ConnectorError) as raised:
            await connector.measure(metric=metric())
    finally:
        await connector.close()
    assert raised.value.transient and raised.value.connection == "api"
    assert "GET" in str(raised.value) and TOKEN not in str(raised.value)
