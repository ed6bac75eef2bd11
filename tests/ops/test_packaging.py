"""What an operator gets besides the code: a container image definition and a compose file
(checked here offline: no container engine runs on the test machines, so the files are
parsed and held to the rules a linter such as hadolint and `docker compose config` apply),
a LICENSE, an .env.example naming every variable, and `baton --version`."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from bot import cli_runtime, cli_web  # noqa: F401  (register the process commands)
from bot.cli import app as cli
from config.settings import Settings

ROOT = Path(__file__).parents[2]
PROCESSES = ("web", "worker", "clock")
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
"""Of the license text as the Apache Software Foundation publishes it."""


def _aliases() -> set[str]:
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        elif isinstance(alias, str):
            names.add(alias)
    return names


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_every_setting_is_in_env_example() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert _aliases() - listed == set(), "add these to .env.example"
    assert listed - _aliases() <= {"BATON_DEMO_DB"}, "not read by Baton"


def test_env_example_as_given_is_a_valid_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _aliases():
        monkeypatch.delenv(name, raising=False)  # only the file's values count
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.port == 3000 and settings.health_port is None and settings.redis_url is None


def test_license_is_the_apache_license_in_full() -> None:
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'license = { text = "Apache-2.0" }' in pyproject


def test_version_option_prints_the_package_version() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "--version"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"baton {version('baton')}\n"


def test_dockerfile_builds_a_small_non_root_image() -> None:
    steps = _instructions()
    stages = [arg for op, arg in steps if op == "FROM"]
    assert len(stages) == 2, "a build stage and a runtime stage"
    for stage in stages:
        image = stage.split()[0].replace("${PYTHON_VERSION}", "3.12")
        assert re.fullmatch(r"python:3\.\d+-slim", image), f"a pinned slim base, not {image}"
    runtime = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    users = [arg for op, arg in runtime if op == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    assert [op for op, _ in steps].index("USER") < [op for op, _ in steps].index("ENTRYPOINT")
    assert not any(op == "ADD" for op, _ in steps), "COPY, not ADD"
    assert not any(op == "RUN" and "pip install" in arg for op, arg in runtime), "no pip here"
    assert not any("apt-get install" in arg for _, arg in steps)
    for op, arg in steps:
        if op == "COPY" and "--from" not in arg:
            for source in arg.split()[:-1]:
                assert (ROOT / source).exists(), source
    entry = next(arg for op, arg in steps if op == "ENTRYPOINT")
    assert json.loads(entry) == ["baton"], "exec form, so signals reach baton"
    assert json.loads(next(arg for op, arg in steps if op == "CMD")) == ["web"]
    workdirs = [arg for op, arg in steps if op == "WORKDIR"]
    assert all(w.startswith("/") for w in workdirs)


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    rules = (ROOT / ".dockerignore").read_text().split()
    assert rules[rules.index("*") :] and ".env" in rules
    included = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = {
        source.rstrip("/")
        for op, arg in _instructions()
        if op == "COPY" and "--from" not in arg
        for source in arg.split()[:-1]
    }
    assert copied <= included, "everything COPY needs is in the build context"


def test_compose_runs_the_three_processes_from_one_image_with_valkey_and_postgres() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"web", "worker", "clock", "valkey", "postgres"} <= set(services)
    commands = {name: services[name]["command"] for name in PROCESSES}
    assert commands == {name: [name] for name in PROCESSES}
    registered = {
        command.name or command.callback.__name__
        for command in cli.registered_commands
        if command.callback is not None
    }
    assert set(PROCESSES) <= registered
    assert len({services[name]["image"] for name in PROCESSES}) == 1
    assert {services[name]["build"] for name in PROCESSES} == {"."}
    env = services["worker"]["environment"]
    host = env["REDIS_URL"].split("//")[1].split(":")[0]
    assert host in services and "valkey" in services[host]["image"]
    assert "postgres" in services["postgres"]["image"]
    for name in ("valkey", "postgres", *PROCESSES):
        assert "healthcheck" in services[name], name
    assert set(compose["volumes"]) >= {
        volume.split(":")[0] for s in services.values() for volume in s.get("volumes", [])
    }


def test_compose_probes_match_the_ports_the_processes_serve() -> None:
    services = _compose()["services"]
    for name in PROCESSES:
        env = services[name]["environment"]
        assert set(env) - _aliases() <= {"POSTGRES_PASSWORD"}, "unknown variables"
        port = "3000" if name == "web" else env["BATON_HEALTH_PORT"]
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/healthz" in probe, name
