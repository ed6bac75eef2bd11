"""The Teams app package, as `baton manifest teams` writes it, is valid against the current
app manifest schema (a copy kept in tests/ops/schemas, so this runs offline) and lists every
command Baton understands."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker
from matplotlib.image import imread
from typer.testing import CliRunner

from bot import cli_teams
from bot.cli import app as cli
from handlers.commands import COMMANDS

SCHEMA = Path(__file__).parent / "schemas" / "MicrosoftTeams.v1.29.schema.json"
APP_ID = "00000000-0000-4000-8000-00000000b470"


def _package(tmp_path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    out = tmp_path / "baton-teams.zip"
    result = CliRunner().invoke(
        cli,
        [
            "manifest",
            "teams",
            "--app-id",
            APP_ID,
            "--base-url",
            "https://baton.example.com",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as package:
        files = {name: package.read(name) for name in package.namelist()}
    return json.loads(files["manifest.json"]), files


def _errors(manifest: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA.read_text())
    # The file names draft-04 but uses `const` (draft-06 on); draft-07 reads all of it. Not
    # check_schema: a few patterns use \p{L}, which Python's `re` lacks (none apply here).
    validator = Draft7Validator(schema, format_checker=FormatChecker())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(manifest)]


def test_package_is_valid_against_the_current_schema(tmp_path: Path) -> None:
    manifest, files = _package(tmp_path)
    schema = json.loads(SCHEMA.read_text())
    assert manifest["manifestVersion"] == schema["properties"]["manifestVersion"]["const"]
    assert f"v{manifest['manifestVersion']}/" in manifest["$schema"]
    assert _errors(manifest) == []
    assert files["color.png"][16:24] == (192).to_bytes(4, "big") * 2
    assert files["outline.png"][16:24] == (32).to_bytes(4, "big") * 2


def test_the_schema_check_catches_what_teams_would_refuse(tmp_path: Path) -> None:
    manifest, _files = _package(tmp_path)
    too_many = {"title": "x", "description": "y"}
    broken = json.loads(json.dumps(manifest))
    broken["bots"][0]["commandLists"][0]["commands"] = [too_many] * 13
    broken["manifestVersion"] = "1.16"
    del broken["accentColor"]
    errors = " ".join(_errors(broken))
    assert "1.29" in errors and "accentColor" in errors and "too long" in errors


@pytest.mark.parametrize("scope", ["personal", "team", "groupChat"])
def test_every_command_is_listed_in_every_scope(tmp_path: Path, scope: str) -> None:
    manifest, _files = _package(tmp_path)
    lists = manifest["bots"][0]["commandLists"]
    listed = [c["title"] for cl in lists if scope in cl["scopes"] for c in cl["commands"]]
    assert len(listed) <= 12, "Teams refuses more commands per scope"
    assert sorted(listed) == sorted(set(COMMANDS) - cli_teams.UNLISTED)
    assert set(cli_teams.COMMAND_HINTS) | cli_teams.UNLISTED == set(COMMANDS)


def test_icons_are_what_teams_asks_for(tmp_path: Path) -> None:
    """Colour: 192 x 192. Outline: 32 x 32, white on transparency and nothing else."""
    _manifest, files = _package(tmp_path)
    color = imread(io.BytesIO(files["color.png"]), format="png")
    outline = imread(io.BytesIO(files["outline.png"]), format="png")
    assert color.shape[:2] == (192, 192) and outline.shape == (32, 32, 4)
    drawn = outline[outline[..., 3] > 0]
    assert len(drawn) > 32 and (drawn[:, :3] == 1.0).all()
