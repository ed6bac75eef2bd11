"""`baton manifest teams`: the Teams app package to upload (manifest.json and two icons)."""

from __future__ import annotations

import json
import struct
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

import bot.teams.surface  # noqa: F401  (registers Teams on the web server and gateways)
from bot.cli_web import manifest_app

MANIFEST_VERSION = "1.29"
"""The current app manifest schema (OfficeDev/microsoft-teams-app-schema, June 2026); the
tests validate the package against a copy of it."""
MANIFEST_SCHEMA = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/"
    f"v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
)
BATON_BLUE = (37, 99, 235)


def png(size: int, rgba: tuple[int, int, int, int], *, ring: bool = False) -> bytes:
    """A square PNG; the outline icon is a white ring on transparency, as Teams asks."""
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            distance = ((x - size / 2 + 0.5) ** 2 + (y - size / 2 + 0.5) ** 2) ** 0.5
            inside = size * 0.3 <= distance <= size * 0.45 if ring else True
            row += bytes(rgba if inside else (0, 0, 0, 0))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    raw = zlib.compress(b"".join(rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def manifest(app_id: str, base_url: str) -> dict[str, Any]:
    """The Teams manifest: a bot in personal chats, teams and group chats."""
    domain = urlsplit(base_url).hostname or base_url
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": "1.0.0",
        "id": app_id,
        "developer": {
            "name": "Baton",
            "websiteUrl": base_url,
            "privacyUrl": base_url,
            "termsOfUseUrl": base_url,
        },
        "name": {"short": "Baton", "full": "Baton: outcome orchestration"},
        "description": {
            "short": "State an outcome; Baton runs the loop toward it.",
            "full": "Baton turns an outcome into a measurable Statement of Benefit, works "
            "toward it, and asks the approvers whenever policy says a human must decide.",
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#2563EB",
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team", "groupChat"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {
                        "scopes": ["personal", "team", "groupChat"],
                        "commands": [
                            {"title": name, "description": text}
                            for name, text in COMMAND_HINTS.items()
                        ],
                    }
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [domain],
    }


COMMAND_HINTS = {
    "list": "Outcomes in this workspace",
    "status": "Where an outcome stands: status <id>",
    "check": "Measure and plan now, not at the next tick: check <id>",
    "pause": "Pause an outcome, or everything: pause <id>|all",
    "resume": "Resume: resume <id>|all",
    "stop": "Stop an outcome for good: stop <id>",
    "audit": "The audit trail: audit <id>",
    "policies": "The policy rules; policies remove <n> drops a learned one",
    "help": "What Baton understands",
}
"""Every command of handlers.commands.COMMANDS, in the order Teams lists them (a test keeps
the two in step)."""


def write_package(path: Path, app_id: str, base_url: str) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest(app_id, base_url), indent=2))
        package.writestr("color.png", png(192, (*BATON_BLUE, 255)))
        package.writestr("outline.png", png(32, (255, 255, 255, 255), ring=True))
    return path


@manifest_app.command("teams")
def teams(
    app_id: Annotated[str, typer.Option(help="The Azure Bot's Microsoft App ID (a GUID).")],
    base_url: Annotated[
        str, typer.Option(help="Where Baton is served, e.g. https://baton.example.com")
    ],
    out: Annotated[Path, typer.Option(help="The package to write.")] = Path("baton-teams.zip"),
) -> None:
    """Write the Teams app package to upload in Teams (Apps > Manage your apps > Upload)."""
    try:
        uuid.UUID(app_id)
    except ValueError:
        typer.echo(
            f"--app-id must be the bot's Microsoft App ID (a GUID), not {app_id!r}.", err=True
        )
        raise typer.Exit(2) from None
    if urlsplit(base_url).scheme != "https":
        typer.echo("--base-url must be an https:// address Teams can reach.", err=True)
        raise typer.Exit(2)
    typer.echo(f"Wrote {write_package(out, app_id, base_url)}")
