"""`baton check` with a connection URL the HTTP client cannot parse: one line naming the
connection, never a traceback; written in the file, it is refused when the file loads."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from config.workspace import validate_workspace
from orchestrator.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SHOP = """\
name: Shop
connections:
  api:
    kind: http
    url: "{url}"
metrics:
  orders:
    connection: api
    unit: count
    direction: increase
    url: /orders
    query: count
"""
UNPARSABLE = ["http://0177.0.0.1/", "http://[::1", "http://shop.example:99999/"]


async def check(tmp_path: Path, url: str, env: dict[str, str]) -> tuple[int, str]:
    workspace = tmp_path / "shop.yaml"
    workspace.write_text(SHOP.format(url=url))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bot.cli import main; main()",
        "check",
        env={**os.environ, **env, "BATON_WORKSPACE": str(workspace), "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest.mark.parametrize("url", UNPARSABLE)
async def test_a_url_in_the_file_is_refused_naming_the_connection(tmp_path: Path, url: str) -> None:
    code, out = await check(tmp_path, url, {})
    assert code == 2
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1
    assert f"connections.api: url {url!r}" in out


async def test_a_url_from_the_environment_fails_its_row_only(tmp_path: Path) -> None:
    code, out = await check(tmp_path, "${SHOP_API_URL}", {"SHOP_API_URL": UNPARSABLE[0]})
    assert code == 1
    assert "Traceback" not in out
    row = next(line for line in out.splitlines() if " orders " in line)
    assert "ERROR connection 'api': InvalidURL: Invalid IPv4 address: '0177.0.0.1'" in row


@pytest.mark.parametrize(
    ("url", "says"),
    [("ftp://shop.example/", "must start with http:// or https://"), ("http://", "no host")],
)
def test_an_http_connection_needs_an_http_url(url: str, says: str) -> None:
    raw = {
        "name": "Shop",
        "connections": {"api": {"kind": "webhook", "url": url, "secret": "${S}"}},
        "metrics": {},
    }
    with pytest.raises(ConfigError, match=says):
        validate_workspace(raw, source="shop.yaml")
