"""The console surface: lines become messages or clicks; pictures are saved to files."""

from __future__ import annotations

import io
from pathlib import Path

from bot.console import ConsoleGateway, parse_console_line, show
from handlers.cards import Card, Click, Inbound, Reply


def test_lines_become_clicks_or_messages() -> None:
    click = parse_console_line("reject a3 too generous for now", "bob")
    assert isinstance(click, Click)
    assert (click.action, click.value, click.reason) == ("reject", "a3", "too generous for now")
    message = parse_console_line("approve", "bob")
    assert isinstance(message, Inbound) and message.text == "approve"


async def test_a_chart_is_saved_and_its_path_shown(tmp_path: Path) -> None:
    out = io.StringIO()
    gateway = ConsoleGateway(out, images=tmp_path)
    png = b"\x89PNG\r\n\x1a\nfake-but-bytes"
    await show(gateway, "olivia", [Reply(Card(title="Outcome o1 · active", image_png=png))])
    saved = list(tmp_path.glob("*.png"))
    assert [p.read_bytes() for p in saved] == [png]
    assert f"chart saved to {saved[0]}" in out.getvalue()
