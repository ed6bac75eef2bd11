"""The dependency rule is enforced by the linter, not by hope."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("orchestrator/example.py", "import slack_bolt\n"),
        ("orchestrator/example.py", "from botbuilder.core import TurnContext\n"),
        ("orchestrator/example.py", "from handlers import texts\n"),
        ("orchestrator/example.py", "from config.settings import Settings\n"),
        ("handlers/example.py", "from slack_sdk import WebClient\n"),
        ("handlers/example.py", "from bot import cli\n"),
        ("handlers/example.py", "from aiohttp import web\n"),
        ("handlers/example.py", "from orchestrator.runtime.services import Runtime\n"),
        ("handlers/example.py", "from orchestrator.runtime.context import Context\n"),
    ],
)
def test_banned_imports_are_reported(path: str, source: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--select",
            "TID251",
            "--stdin-filename",
            path,
            "-",
        ],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert "TID251" in result.stdout


def test_bot_may_import_anything() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--select",
            "TID251",
            "--stdin-filename",
            "bot/example.py",
            "-",
        ],
        input="import slack_bolt\nfrom handlers import texts\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout
