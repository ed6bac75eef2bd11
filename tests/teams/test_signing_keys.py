"""The Bot Framework's signing keys as Baton keeps them: fetched once and kept a day, kept
when a refresh fails, fetched again for a key id not in hand (at most every few minutes)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.teams.signing_keys import (
    MAX_AGE_S,
    RETRY_AFTER_S,
    UNKNOWN_KEY_REFRESH_S,
    SigningKeys,
    Unverified,
)
from tests.doubles.openid_signer import SignerDouble, SigningKey


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def signer() -> AsyncIterator[SignerDouble]:
    double = SignerDouble()
    await double.start()
    yield double
    await double.stop()


async def test_keys_are_fetched_once_and_read_again_after_a_day(signer: SignerDouble) -> None:
    clock = Clock()
    keys = SigningKeys(signer.metadata_url, clock=clock)
    for _ in range(3):
        assert (await keys.get("published-key")).endorsements == ["msteams"]
    clock.now += MAX_AGE_S - 1
    await keys.get("published-key")
    assert signer.fetches == 1
    clock.now += 2
    await keys.get("published-key")
    assert signer.fetches == 2


async def test_a_failed_refresh_keeps_the_keys_in_hand(signer: SignerDouble) -> None:
    clock = Clock()
    keys = SigningKeys(signer.metadata_url, clock=clock)
    await keys.get("published-key")
    signer.down = True
    clock.now += MAX_AGE_S + 1
    assert await keys.get("published-key")  # the refresh failed; yesterday's key still holds
    with pytest.raises(Unverified, match="not published"):
        await keys.get("another-key")


async def test_no_keys_at_all_is_unverified_and_not_asked_again_at_once(
    signer: SignerDouble,
) -> None:
    clock = Clock()
    signer.down = True
    keys = SigningKeys(signer.metadata_url, clock=clock)
    for _ in range(2):
        with pytest.raises(Unverified, match="cannot be read now"):
            await keys.get("published-key")
    assert signer.fetches == 1  # the second request did not ask again
    clock.now += RETRY_AFTER_S
    signer.down = False
    assert await keys.get("published-key")
    assert signer.fetches == 2


async def test_a_new_key_is_found_by_a_fetch_at_most_every_few_minutes(
    signer: SignerDouble,
) -> None:
    clock = Clock()
    keys = SigningKeys(signer.metadata_url, clock=clock)
    await keys.get("published-key")
    signer.published = SigningKey("rotated-key")
    clock.now += 1
    with pytest.raises(Unverified, match="not published"):
        await keys.get("rotated-key")
    clock.now += UNKNOWN_KEY_REFRESH_S
    assert await keys.get("rotated-key")
    assert signer.fetches == 2
