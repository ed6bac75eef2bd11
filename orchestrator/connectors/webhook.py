"""The `webhook` connector: one signed JSON POST per step.

The body is signed with HMAC-SHA256 under the connection's secret and sent in the
signature header as `sha256=<hex>`; the step id is the `Idempotency-Key`, so a receiver
that honours it acts once however often a retry delivers. A header that cannot be sent (a
control character or a non-ASCII one, which the HTTP client refuses) is a permanent error
naming the header, not a transient one retried until the job is dead-lettered.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from orchestrator.connectors import Work
from orchestrator.connectors.http import HttpConnector, Request
from orchestrator.connectors.payload import encode
from orchestrator.workspace.catalog import Action, Metric

_SENDABLE = re.compile(r"[\t\x20-\x7e]*")
"""What an HTTP/1.1 header value may hold as httpx sends it: tabs and printable ASCII."""


def signature(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookConnector(HttpConnector):
    """Posts events; it reads nothing."""

    noun = "events"

    def _configure(self) -> None:
        super()._configure()
        self._secret = self.secrets.expand(self.connection.secret, where="secret")

    async def measure(self, *, metric: Metric) -> float:
        raise self.secrets.error("a webhook cannot be measured; use an http connection")

    async def fetch(self, *, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        raise self.secrets.error("a webhook cannot be read; use an http connection")

    def requests(self, work: Work) -> list[Request]:
        ctx = {"params": dict(work.params), "rows": work.rows}
        action = work.action
        event = action.model_copy(
            update={"method": "POST", "for_each": None, "body": action.body or _event(action)}
        )
        request = self._request(event, ctx, work.key, "0")
        request.headers[self.connection.signature_header] = signature(
            self._secret, encode(request.body)
        )
        self._check_headers(request.headers)
        return [request]

    def _check_headers(self, headers: dict[str, str]) -> None:
        """A permanent error: sending again would be refused again."""
        for name, value in headers.items():
            if not _SENDABLE.fullmatch(value):
                detail = "it holds a control or non-ASCII character"
                raise self.secrets.error(f"header {name} cannot be sent: {detail}")


def _event(action: Action) -> dict[str, Any]:
    """The default body: what the step does, its parameters, its draft and its rows."""
    return {
        "action": action.description,
        "params": "{{ params }}",
        "rows": "{{ rows }}",
    }
