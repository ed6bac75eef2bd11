"""`baton manifest teams`: the Teams app package to upload (manifest.json and two icons)."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from bot.cli_web import manifest_app

MANIFEST_VERSION = "1.29"
"""The current app manifest schema (OfficeDev/microsoft-teams-app-schema, June 2026); the
tests validate the package against a copy of it."""
MANIFEST_SCHEMA = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/"
    f"v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
)
BATON_BLUE = "#2563EB"


def icon(size: int, *, outline: bool) -> bytes:
    """A square PNG of Baton's ring, drawn with matplotlib (no pyplot): in colour on blue,
    or, for the outline icon Teams asks for, white on transparency."""
    figure = Figure(figsize=(1, 1), dpi=size)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    if not outline:
        axes.add_patch(Rectangle((0, 0), 1, 1, color=BATON_BLUE))
    # The ring is 15% of the icon thick: 0.15 inch at one inch per icon, in points.
    axes.add_patch(Circle((0.5, 0.5), 0.3, fill=False, color="white", linewidth=0.15 * 72))
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=size, transparent=True)
    return out.getvalue()


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
        "accentColor": BATON_BLUE,
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
    "evidence": "What Baton has measured each action to do, across outcomes",
    "approvals": "What waits for your decision, as approver or stand-in",
    "edit": "Correct a step before approving it: edit <approval> <change>",
    "away": "Hand your approvals over: away until <day>, delegate @someone (back ends it)",
}
"""The commands Teams offers, in its order. Teams takes at most 12 per scope, so these are
all of handlers.commands.COMMANDS but `UNLISTED` (a test keeps them in step)."""
UNLISTED = frozenset({"help", "back", "what"})
"""Commands Teams does not offer: `help` is what any unknown word answers, `back` ends
`away` (its hint says so), `what` is "what waits for me?", the words of `approvals`."""


def write_package(path: Path, app_id: str, base_url: str) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest(app_id, base_url), indent=2))
        package.writestr("color.png", icon(192, outline=False))
        package.writestr("outline.png", icon(32, outline=True))
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
