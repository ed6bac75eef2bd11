"""End to end on a Redis Cluster: `baton web` + `baton run` as processes pointed at a local
3-master cluster (`redis+cluster://`), driven by signed Slack requests as people send them;
and readiness, which on a cluster needs every primary to take writes."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from bot.demo.simulation import Business
from tests.doubles.slack_api import SlackApiDouble
from tests.redis_cluster import SLOTS, LocalCluster, cluster_binary
from tests.runtime.processes import until
from tests.slack.conftest import command_body
from tests.slack.processes import Baton, baton_env, eventually, free_port, serving, spawn
from tests.slack.test_e2e import STATEMENT, Slack


@pytest.fixture
async def baton(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path, cluster_url: str
) -> AsyncIterator[Baton]:
    env = baton_env(slack_api.base_url, tmp_path / "state", business.path, REDIS_URL=cluster_url)
    async with serving(env, tmp_path) as running:
        yield running


async def test_statement_confirm_list_and_approval_on_a_cluster(
    baton: Baton, slack_api: SlackApiDouble
) -> None:
    slack = Slack(baton, slack_api)
    assert await slack.command(STATEMENT, "olivia") == 200
    await eventually(lambda: slack.posted("percentage points"), "the clarifying question")
    thread = next(c.answer["ts"] for c in slack_api.calls if c.method == "chat.postMessage")
    assert await slack.reply("points", "olivia", thread, "Ev1") == 200
    session = (await eventually(lambda: slack_api.buttons("confirm"), "Confirm"))[0][0]
    assert await slack.click("confirm", session, "olivia") == 200
    outcome = "o" + session[1:]  # on a cluster the id carries the workspace's hash tag
    assert "." in outcome
    await eventually(lambda: slack.updated(f"Confirmed: outcome {outcome}"), "the confirmation")

    # The list comes back privately, in the acknowledgement's body.
    status, listed = await baton.post(*command_body("list", user="olivia", trigger="tl"))
    assert status == 200 and "Outcomes (1)" in listed and outcome in listed

    approval = (await eventually(lambda: slack_api.buttons("approve"), "the approval"))[0][0]
    assert await slack.click("approve", approval, "alice") == 200
    assert await slack.click("approve", approval, "alice") == 200  # the double click
    await eventually(lambda: slack.updated("Approved by @alice"), "the approval update")
    await eventually(lambda: slack.posted("Done: send_winback"), "the win-back to run")
    assert len(slack.posted("Done: send_winback")) == 1
    assert await slack.command(f"status {outcome}", "olivia") == 200
    await eventually(
        lambda: [t for t in slack_api.texts("chat.postEphemeral") if f"Outcome {outcome}" in t],
        "the private status",
    )
    assert not [t for t in slack_api.texts() if "Something went wrong" in t]
    assert baton.session is not None
    for probe, says in (("/readyz", '"ready"'), ("/metrics", "baton_job_backlog")):
        async with baton.session.get(baton.url + probe) as response:
            assert response.status == 200 and says in await response.text()
    for log in ("web.log", "run.log"):
        assert "Traceback" not in (baton.logs / log).read_text()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A cluster of this test's own: it stops one of the nodes."""
    if cluster_binary() is None:
        pytest.skip("no redis-server on this machine to start a cluster with")
    cluster = LocalCluster(tmp_path / "cluster")
    cluster.start()
    yield cluster
    for node in cluster.processes:
        node.send_signal(signal.SIGCONT)
    cluster.stop()


async def test_not_ready_while_one_primary_is_stopped(
    own_cluster: LocalCluster, slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> None:
    """A worker's /readyz (on its health port) says whether the cluster takes writes: every
    primary must, a stopped one or a full one makes it 503."""
    port = free_port()
    env = baton_env(
        slack_api.base_url,
        tmp_path / "state",
        business.path,
        REDIS_URL=own_cluster.url,
        BATON_HEALTH_PORT=str(port),
    )
    stopped = own_cluster.processes[-1]
    # A prefix whose single probe key (the readiness check before) is not on the node stopped.
    while _holder(own_cluster, env["BATON_KEY_PREFIX"] + ":capacity:probe") == stopped:
        env["BATON_KEY_PREFIX"] += "x"
    worker = spawn("worker", env, tmp_path / "worker.log")
    url = f"http://127.0.0.1:{port}/readyz"
    try:
        async with aiohttp.ClientSession() as session:
            assert await _answer_until(session, url, 200)
            stopped.send_signal(signal.SIGSTOP)
            assert await _status(session, url) == 503
            stopped.send_signal(signal.SIGCONT)
            assert await _answer_until(session, url, 200)  # ready again once it is back
            # One shard full: not ready, and the page's figures are that shard's.
            node = Redis(port=own_cluster.ports[-1])
            await node.config_set("maxmemory-policy", "noeviction")
            await node.config_set("maxmemory", "1")
            async with session.get(url) as response:
                assert response.status == 503
                assert "maxmemory 1B" in (await response.json())["redis"]
            await node.config_set("maxmemory", "0")
            await node.aclose()
            assert await _answer_until(session, url, 200)
    finally:
        stopped.send_signal(signal.SIGCONT)
        worker.terminate()
        worker.wait(15)


def _holder(cluster: LocalCluster, key: str) -> subprocess.Popen[bytes]:
    """The node process that serves `key`'s slot (slots are split in order over the ports)."""
    share = SLOTS // len(cluster.processes)
    return cluster.processes[min(key_slot(key.encode()) // share, len(cluster.processes) - 1)]


async def _status(session: aiohttp.ClientSession, url: str) -> int | None:
    try:
        async with session.get(url) as response:
            return response.status
    except aiohttp.ClientError:
        return None


async def _answer_until(session: aiohttp.ClientSession, url: str, status: int) -> bool:
    return await until(lambda: _is(session, url, status), rounds=600)


async def _is(session: aiohttp.ClientSession, url: str, status: int) -> bool:
    return await _status(session, url) == status
