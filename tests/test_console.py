"""`baton console` driven as a person drives it: a process, lines on its standard input,
the conversation read back from its output."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
STATEMENT = "Reduce churn by 2 points by 31 March"


@dataclass
class Session:
    code: int
    out: str
    err: str

    def answers_to(self, line: str) -> list[str]:
        """What the console printed after `line` was typed, up to the next typed line."""
        after = self.out.split(line + "\n", 1)[1]
        return re.split(r"^@\w+ > ", after, flags=re.MULTILINE)[0].splitlines()


async def console(lines: list[str], env: dict[str, str], cwd: Path) -> Session:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bot.cli import main; main()",
        "console",
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    typed = "".join(line + "\n" for line in lines).encode()
    out, err = await asyncio.wait_for(process.communicate(typed), timeout=120)
    assert process.returncode is not None
    return Session(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def env(redis_url: str, redis: Redis, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    prefix = f"test:console:{uuid.uuid4().hex[:10]}"
    environ = {
        **os.environ,
        "REDIS_URL": redis_url,
        "BATON_KEY_PREFIX": prefix,
        "BATON_STATE_DIR": str(tmp_path / "state"),
        "PYTHONPATH": str(ROOT),
    }
    for variable in ("BATON_WORKSPACE", "BATON_DEMO_DB", "BATON_LOG_JSON"):
        environ.pop(variable, None)
    yield environ
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        await redis.delete(key)


async def test_the_banner_comes_first_and_no_log_line_reaches_the_conversation(
    env: dict[str, str], tmp_path: Path
) -> None:
    session = await console(["help"], env, tmp_path)
    assert session.code == 0, session.err
    assert session.out.startswith("Baton console · Northwind Subscriptions (demo)")
    assert '{"event"' not in session.out + session.err
    assert (tmp_path / "state" / "console.log").read_text().strip()  # they went here instead


async def test_each_answer_follows_the_line_that_caused_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    session = await console([STATEMENT, "confirm i1", "list"], env, tmp_path)
    assert session.code == 0, session.err
    assert not re.search(r"> @\w+ >|@\w+ > baton", session.out), session.out
    statement = session.answers_to(f"@olivia > {STATEMENT}")
    assert statement[0] == "baton > Statement of Benefit"
    assert "[Confirm: confirm i1]" in statement[-1]
    confirmed = session.answers_to("@olivia > confirm i1")
    assert confirmed[0].startswith("baton > Confirmed: outcome o1 is active")
    assert any("Approval needed" in line for line in confirmed)
    assert "o1 [active]" in "\n".join(session.answers_to("@olivia > list"))


async def test_a_rejection_can_become_a_rule_and_a_stop_is_said_once(
    env: dict[str, str], tmp_path: Path
) -> None:
    started = await console([STATEMENT, "confirm i1"], env, tmp_path)
    approval = re.findall(r"\[Approve: approve (a\d+)\]", started.out)[0]
    reject = f"reject {approval} not before the spring campaign"
    session = await console(
        ["as alice", reject, f"rule {approval}", "as olivia", "stop o1"], env, tmp_path
    )
    assert session.code == 0, session.err
    offer = "\n".join(session.answers_to(f"@alice > {reject}"))
    assert f"[Make it a rule: rule {approval}]" in offer
    added = session.answers_to(f"@alice > rule {approval}")
    assert added and "Rule added by @alice" in added[0], session.out
    assert session.out.count("stop o1") == 1
    assert session.out.count("Outcome o1 is now stopped.") == 1
