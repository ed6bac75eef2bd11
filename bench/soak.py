"""Soak: mixed Slack traffic against `baton web` + 2 `baton worker` + `baton clock` on a real
Redis server (started here, appendonly, on a free port), with failures injected, then a
consistency check of everything that was said and done.

Usage: python bench/soak.py [--minutes 10] [--concurrency 8] [--rate 5] [--hard]

Traffic (signed exactly as Slack signs): new outcomes (`/outcome <statement>` by one of 40
people, then their Confirm click), approvals (an approver's click, sometimes a second
approver's click on the same card, sometimes a stranger's), `status <id>` and `check <id>`
(a tick now, by the outcome's owner). Failures: at 25% a worker is killed -9 (and restarted
a second later); at 50% Redis is shut down and started again on its append-only file; at
70% the Slack Web API double answers 429 to everything for 15 seconds. With `--hard`, as an
operator's worst week would have it: two clocks, a worker killed -9 every 8 seconds (mostly
mid-job), the leading clock stopped with SIGSTOP for 20 seconds, Redis restarted on its
append-only file, and the Slack Web API answering 500 to everything for 60 seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis
from redis.exceptions import RedisError
from soak_check import check

from bot.demo.simulation import Business
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import block_action, command_body, interaction_body, sign
from tests.slack.processes import baton_env, free_port, spawn

STATEMENTS = (
    "Cut monthly churn by 2 points by end of Q1",
    "Reduce monthly churn by 1.5 points by end of Q1",
    "Cut at-risk customers by 20 by end of Q1",
)
PEOPLE = [f"u{n}" for n in range(40)]


class RedisServer:
    """A redis-server process with an append-only file, restartable on the same port."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.port = directory, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(self.directory)]
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                client = Redis.from_url(self.url)
                await client.ping()
                await client.aclose()
                return
            except (OSError, RedisError):
                await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    async def restart(self) -> float:
        """SHUTDOWN (the append-only file is flushed), then start again; seconds down."""
        assert self.process is not None
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)  # redis-server shuts down cleanly on TERM
        self.process.wait(30)
        await self.start()
        return time.monotonic() - began

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


class Traffic:
    """Signed Slack requests to `baton web`, with their acknowledgement latencies."""

    def __init__(self, url: str, slack: SlackApiDouble) -> None:
        self.url, self.slack = url, slack
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[str] = Counter()
        self.owner: dict[str, str] = {}  # session id -> who stated it (and confirms it)
        self.n = 0
        self.session: aiohttp.ClientSession | None = None

    async def post(self, kind: str, body: str, content_type: str) -> None:
        assert self.session is not None
        began = time.perf_counter()
        headers = {"Content-Type": content_type, **sign(body)}
        try:
            async with self.session.post(self.url, data=body, headers=headers) as response:
                await response.read()
                self.statuses[f"{kind} {response.status}"] += 1
        except (aiohttp.ClientError, TimeoutError) as error:
            self.statuses[f"{kind} {type(error).__name__}"] += 1
            return
        self.latency[kind].append(time.perf_counter() - began)

    async def command(self, kind: str, text: str, user: str) -> None:
        self.n += 1
        body = command_body(text, user=user, trigger=f"soak-{self.n}", channel=channel_of(user))
        await self.post(kind, *body)

    async def click(self, action: str, card: Card, user: str) -> None:
        self.n += 1
        value, ts, thread, channel = card
        payload = block_action(
            action, value, user=user, channel=channel, ts=ts, thread=thread, n=self.n
        )
        await self.post(action, *interaction_body(payload))

    async def one(self, rng: random.Random) -> None:
        """One request of the mix."""
        roll = rng.random()
        confirms = [c for c in cards(self.slack, "confirm") if c[0] not in self.owner]
        outcomes = confirmed_outcomes(self.slack)
        if roll < 0.1 or (roll < 0.3 and not confirms):
            await self.command("state", rng.choice(STATEMENTS), rng.choice(PEOPLE))
        elif roll < 0.3:
            card = rng.choice(confirms)
            self.owner[card[0]] = stated_by(self.slack, card)
            await self.click("confirm", card, self.owner[card[0]])
        elif roll < 0.65 and (approvals := cards(self.slack, "approve")):
            user = rng.choice(["alice", "bob", "alice", "mallory"])
            await self.click("approve", rng.choice(approvals), user)
        elif outcomes:
            outcome = rng.choice(outcomes)
            owner = self.owner.get("i" + outcome[1:], "nobody")
            verb = "status" if roll < 0.85 else "check"
            await self.command(verb, f"{verb} {outcome}", owner)


Card = tuple[str, str, str | None, str]
"""A button as Slack shows it now: (value, message ts, thread ts, channel)."""


CHANNELS = [8]
"""How many channels people work in (`--channels`)."""


def channel_of(user: str) -> str:
    """People work in CHANNELS channels. Slack allows about one message per second per
    channel: more traffic than that is queued and delivered at Slack's pace."""
    return f"C{int(user[1:]) % CHANNELS[0]}" if user[1:].isdigit() else "C1"


def cards(slack: SlackApiDouble, action: str) -> list[Card]:
    """`action` buttons on messages as they are now."""
    current: dict[str, tuple[list[Any], str | None, str]] = {}
    for call in slack.calls:
        params = call.params
        if call.method == "chat.postMessage":
            current[call.answer["ts"]] = (
                params.get("blocks", []),
                params.get("thread_ts"),
                params["channel"],
            )
        elif call.method == "chat.update" and params["ts"] in current:
            _, thread, channel = current[params["ts"]]
            current[params["ts"]] = (params.get("blocks", []), thread, channel)
    return [
        (element["value"], ts, thread, channel)
        for ts, (blocks, thread, channel) in current.items()
        for block in blocks
        if block["type"] == "actions"
        for element in block.get("elements", [])
        if element["action_id"] == f"baton_{action}"
    ]


def stated_by(slack: SlackApiDouble, card: Card) -> str:
    """Who stated the statement a Confirm card answers (the thread's anchor names them)."""
    for call in slack.calls:
        if call.method == "chat.postMessage" and call.answer.get("ts") == (card[2] or card[1]):
            text = str(call.params.get("text", ""))
            if text.startswith("@"):
                return text[1:].split()[0]
    return "nobody"


def confirmed_outcomes(slack: SlackApiDouble) -> list[str]:
    """Every outcome Slack was told is confirmed ('Confirmed: outcome o.. is active')."""
    return sorted(
        {
            str(call.params["text"]).split()[2]
            for call in slack.calls
            if call.method in ("chat.update", "chat.postMessage")
            and str(call.params.get("text", "")).startswith("Confirmed: outcome ")
        }
    )


async def run(minutes: float, concurrency: int, rate: float, hard: bool = False) -> int:
    work = Path(tempfile.mkdtemp(prefix="baton-soak-"))
    redis = RedisServer(work)
    await redis.start()
    slack = SlackApiDouble()
    await slack.start()
    business = Business(work / "crm.sqlite3")
    business.create()
    env = baton_env(slack.base_url, work / "state", business.path, REDIS_URL=redis.url)
    env["BATON_LOG_LEVEL"] = "WARNING"
    processes = {
        "web": spawn("web", env, work / "web.log"),
        "worker-a": spawn("worker", env, work / "worker-a.log"),
        "worker-b": spawn("worker", env, work / "worker-b.log"),
        "clock": spawn("clock", env, work / "clock.log"),
    }
    if hard:
        processes["clock-b"] = spawn("clock", env, work / "clock-b.log")
    traffic = Traffic(f"http://127.0.0.1:{env['PORT']}/slack/events", slack)
    try:
        traffic.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        await _healthy(traffic.session, env["PORT"])
        seconds = minutes * 60
        began = time.monotonic()
        faults = Faults(seconds, began, processes, env, work, redis, slack)
        injector = asyncio.create_task((_inject_hard if hard else _inject)(faults))
        rng = random.Random(7)

        async def user() -> None:
            # Paced so the whole mix offers about `rate` requests per second.
            while time.monotonic() - began < seconds:
                sent = time.monotonic()
                await traffic.one(rng)
                await asyncio.sleep(max(0.0, concurrency / rate - (time.monotonic() - sent)))

        await asyncio.gather(*(user() for _ in range(concurrency)), injector)
        elapsed = time.monotonic() - began
        requests = sum(len(v) for v in traffic.latency.values())

        def announced() -> list[tuple[str, str]]:
            return [(o, traffic.owner.get("i" + o[1:], "?")) for o in confirmed_outcomes(slack)]

        print(
            f"soak: {minutes:g} min, {concurrency} concurrent, {rate:g} req/s offered, "
            f"{CHANNELS[0]} channels, "
            f"prefix {env['BATON_KEY_PREFIX']}"
        )
        for line in faults.events:
            print(f"  injected: {line}")
        print(f"  requests answered: {requests} ({requests / elapsed:.1f}/s)")
        for kind, values in sorted(traffic.latency.items()):
            print(f"  {kind:8} n={len(values):6}  " + _percentiles(values))
        print(f"  statuses: {dict(sorted(traffic.statuses.items()))}")
        for name, process in processes.items():
            state = "running" if process.poll() is None else f"exited {process.returncode}"
            print(f"  {name}: {state}")
        problems = await check(
            redis.url,
            env["BATON_KEY_PREFIX"],
            business.path,
            announced,
            env["BATON_AUDIT_KEY"],
            Path(env["BATON_STATE_DIR"]),
        )
        print(f"  outcomes confirmed in chat: {len(announced())}")
        print(f"  Slack calls refused with 429 (all retried): {slack.refused}")
        print("consistency: " + ("OK" if not problems else f"{len(problems)} PROBLEMS"))
        for problem in problems[:40]:
            print(f"  - {problem}")
        return 0 if not problems else 1
    finally:
        if traffic.session is not None:
            await traffic.session.close()
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        await slack.stop()
        redis.stop()
        print(f"  logs in {work}" if "--keep" in sys.argv else "")
        if "--keep" not in sys.argv:
            shutil.rmtree(work, ignore_errors=True)


@dataclass
class Faults:
    """The running system faults are injected into, and what was injected (`events`)."""

    seconds: float
    began: float
    processes: dict[str, subprocess.Popen[bytes]]
    env: dict[str, str]
    work: Path
    redis: RedisServer
    slack: SlackApiDouble
    events: list[str] = field(default_factory=list)

    def since(self, ago: float = 0.0) -> str:
        """When, in seconds of the run, something that lasted `ago` seconds began."""
        return f"{time.monotonic() - self.began - ago:.0f}s"

    async def at(self, fraction: float) -> None:
        """Until `fraction` of the run has passed."""
        await asyncio.sleep(max(0.0, self.began + self.seconds * fraction - time.monotonic()))

    def kill_worker(self, name: str) -> None:
        """SIGKILL: no shutdown, its jobs are reclaimed."""
        self.processes[name].kill()
        self.processes[name].wait()

    def start_worker(self, name: str) -> None:
        self.processes[name] = spawn("worker", self.env, self.work / f"{name}.log")

    async def restart_redis(self) -> None:
        down = await self.redis.restart()
        self.events.append(f"Redis restarted at {self.since()} (down {down:.1f}s)")


async def _inject(faults: Faults) -> None:
    await faults.at(0.25)
    faults.kill_worker("worker-a")
    await asyncio.sleep(1)
    faults.start_worker("worker-a")
    faults.events.append(f"worker killed -9 at {faults.since()}, restarted 1s later")
    await faults.at(0.5)
    await faults.restart_redis()
    await faults.at(0.7)
    faults.slack.fail_next(429, 10**9, retry_after=1)
    await asyncio.sleep(15)
    faults.slack.outage = None
    refused = faults.slack.refused
    faults.events.append(
        f"Slack API answered 429 for 15s from {faults.since(15)} ({refused} calls)"
    )


async def _inject_hard(faults: Faults) -> None:
    """Kills all along; a clock stopped, Redis restarted, Slack down for a minute."""
    killer = asyncio.create_task(_kill_workers(faults))
    await faults.at(0.2)
    clock = faults.processes["clock"]
    clock.send_signal(signal.SIGSTOP)
    await asyncio.sleep(20)
    clock.send_signal(signal.SIGCONT)
    faults.events.append(f"leading clock stopped (SIGSTOP) for 20s at {faults.since(20)}")
    await faults.at(0.45)
    await faults.restart_redis()
    await faults.at(0.6)
    faults.slack.down(500)
    await asyncio.sleep(60)
    faults.slack.up()
    faults.events.append(f"Slack API answered 500 for 60s from {faults.since(60)}")
    await killer


async def _kill_workers(faults: Faults) -> None:
    kills = 0
    while time.monotonic() - faults.began < faults.seconds - 10:
        await asyncio.sleep(8)
        name = ("worker-a", "worker-b")[kills % 2]
        faults.kill_worker(name)  # usually mid-job under this traffic
        faults.start_worker(name)
        kills += 1
    faults.events.append(
        f"{kills} workers killed -9 (every 8s, alternating), each restarted at once"
    )


async def _healthy(session: aiohttp.ClientSession, port: str) -> None:
    for _ in range(600):
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError("baton web did not start")


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return (
        f"p50 {q(0.5):7.1f} ms  p95 {q(0.95):7.1f} ms  p99 {q(0.99):7.1f} ms  max {q(1.0):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=5.0, help="requests per second offered")
    parser.add_argument("--channels", type=int, default=8, help="channels the 40 people use")
    parser.add_argument("--keep", action="store_true", help="keep the logs and the CRM copy")
    parser.add_argument(
        "--hard",
        action="store_true",
        help="kills all along, a stopped clock, Redis restarted, Slack down for a minute",
    )
    args = parser.parse_args()
    sqlite3.connect(":memory:").close()
    CHANNELS[0] = args.channels
    raise SystemExit(asyncio.run(run(args.minutes, args.concurrency, args.rate, args.hard)))


if __name__ == "__main__":
    main()
