"""Secrets of one connection: expanded where used, and scrubbed from anything shown."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.errors import ConnectorError
from orchestrator.workspace.secrets import expand, references

REDACTED = "***"


class Secrets:
    """Expands `${ENV_VAR}` references and remembers every value it handed out."""

    def __init__(self, connection: str, env: Mapping[str, str]) -> None:
        self.connection = connection
        self._env = env
        self._values: set[str] = set()

    def expand(self, text: str, *, where: str) -> str:
        """`text` with its references replaced; the values become secrets to scrub."""
        for name in references(text):
            if self._env.get(name):
                self._values.add(self._env[name])
        return expand(text, self._env, where=f"connections.{self.connection}.{where}")

    def scrub(self, text: str) -> str:
        """`text` with every secret value replaced by `***` (longest first)."""
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return text

    def error(self, what: str, *, transient: bool = False) -> ConnectorError:
        """A `ConnectorError` naming the connection, with secrets scrubbed."""
        return ConnectorError(self.connection, self.scrub(what), transient=transient)
