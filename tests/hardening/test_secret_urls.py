"""A password in any connection URL Baton is configured with never reaches a log line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.logging import Scrubber, all_secrets
from config.settings import DEMO_WORKSPACE, Settings

PASSWORD = "hunter2-very-secret"


@pytest.mark.parametrize(
    "setting",
    ["redis_url", "history_url", "llm_base_url"],
)
def test_a_password_in_a_configured_url_is_scrubbed(setting: str, tmp_path: Path) -> None:
    url = f"postgresql://baton:{PASSWORD}@db.internal:5432/baton"
    if setting == "redis_url":
        url = f"redis://:{PASSWORD}@cache.internal:6379/0"
    plain = Settings(workspace_file=DEMO_WORKSPACE, state_dir=tmp_path)
    settings = plain.model_copy(update={setting: url})
    scrub = Scrubber(all_secrets(settings, {}))
    assert PASSWORD not in scrub.text(f"could not connect to {url}")
