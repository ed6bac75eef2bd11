"""Servers and connection specs for the connector tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from orchestrator.store.delivery_ledger import RedisDeliveryLedger
from orchestrator.store.keys import Keys
from tests.connectors.servers import Mailbox, Receiver

TOKEN = "tok-3b8f1c9e-secret"
SIGNING = "whsec-71d0aa52-secret"
ENV = {"API_TOKEN": TOKEN, "HOOK_SECRET": SIGNING, "SMTP_PASSWORD": "pw-secret-91"}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver(secret=SIGNING, token=TOKEN)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    server = Mailbox()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def ledger(redis: Redis, keys: Keys) -> RedisDeliveryLedger:
    return RedisDeliveryLedger(redis, keys.prefix)
