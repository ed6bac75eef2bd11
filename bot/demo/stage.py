"""The stage every scripted demo runs on: a fresh simulated CRM, an embedded Redis in a
temporary directory, a manual clock and the console, wired by the composition root."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot.bootstrap import App, bootstrap
from bot.console import ConsoleGateway
from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE, Settings
from orchestrator.runtime.clock import ManualClock


@dataclass
class Stage:
    app: App
    gateway: ConsoleGateway
    clock: ManualClock
    business: Business


@asynccontextmanager
async def stage(
    out: TextIO, *, start: datetime, key_prefix: str, customers: int = 500
) -> AsyncIterator[Stage]:
    """A fresh demo world; everything it wrote is gone when the block ends."""
    with tempfile.TemporaryDirectory(prefix=f"baton-{key_prefix}-") as tmp:
        business = Business(Path(tmp) / "crm.sqlite3")
        business.create(customers=customers)
        settings = Settings(
            redis_url=None,
            state_dir=Path(tmp) / "state",
            workspace_file=DEMO_WORKSPACE,
            key_prefix=key_prefix,
        )
        gateway = ConsoleGateway(out)
        clock = ManualClock(start)
        app = await bootstrap(
            settings,
            {"console": gateway},
            clock=clock,
            env={"BATON_DEMO_DB": str(business.path)},
            name="demo",
        )
        try:
            yield Stage(app, gateway, clock, business)
        finally:
            await app.close()
