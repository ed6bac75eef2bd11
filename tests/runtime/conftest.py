"""Fixtures shared by the runtime tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.doubles.slack_api import SlackApiDouble
from tests.runtime.receiver import PageReceiver, page_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[PageReceiver]:
    """A local page receiver (webhook and PagerDuty Events v2), on a free port."""
    async with page_receiver() as running:
        yield running


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackApiDouble]:
    """A Slack Web API double on a free port."""
    double = SlackApiDouble()
    await double.start()
    yield double
    await double.stop()
