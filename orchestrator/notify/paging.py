"""Pagers: a generic JSON webhook and the PagerDuty Events API v2.

A non-2xx answer or a network error raises a transient `ConnectorError`, so the page
job is retried with backoff and finally dead-lettered, never silently dropped.

Pagers pass the outbound address guard like the connectors: a loopback, private,
link-local or metadata address is refused (checked on every DNS answer, connected to as
checked) unless the operator lists its network in `allow_private`
(`BATON_PAGER_ALLOW_PRIVATE`). Redirects are not followed: a 3xx answer fails the page.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import httpx

from orchestrator.connectors.guard import AddressGuard, GuardedTransport, Resolver
from orchestrator.connectors.secrecy import REDACTED
from orchestrator.errors import ConfigError, ConnectorError
from orchestrator.notify.incidents import Incident

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
TIMEOUT = httpx.Timeout(10.0).as_dict()
ALLOW_HINT = "list its network in BATON_PAGER_ALLOW_PRIVATE to allow it"


class Pager(Protocol):
    """The port to on-call."""

    async def page(self, incident: Incident) -> None: ...


def webhook_body(incident: Incident) -> dict[str, Any]:
    """The generic JSON webhook's body: the incident as it is, plus its runbook pointer."""
    return {**incident.model_dump(mode="json"), "runbook": incident.runbook}


def pagerduty_body(incident: Incident, routing_key: str, *, base_url: str = "") -> dict[str, Any]:
    """A PagerDuty Events API v2 event; a resolve carries only the dedup key."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": incident.action,
        "dedup_key": incident.dedup_key,
    }
    if incident.action == "resolve":
        return body
    subject = f"outcome {incident.outcome_id}" if incident.outcome_id else incident.workspace
    body["payload"] = {
        "summary": f"Baton {incident.kind} on {subject}: {incident.what}"[:1024],
        "source": f"baton/{incident.workspace}",
        "severity": "error" if incident.kind != "approval_escalated" else "warning",
        "timestamp": incident.at.isoformat(),
        "component": incident.outcome_id or "baton",
        "class": incident.kind,
        "custom_details": {"what": incident.what, **incident.details},
    }
    body["links"] = [{"href": base_url + incident.runbook, "text": "Runbook"}]
    return body


class _Poster:
    def __init__(
        self,
        name: str,
        url: str,
        *secrets: str,
        allow_private: Iterable[str] = (),
        resolver: Resolver | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self._guard = AddressGuard(name, allow_private, resolver, hint=ALLOW_HINT)
        _check_url(self._guard, url)
        # A pager URL is a bearer token (its path, password or query may be the key), and
        # services echo what they were sent in their error answers: none of it may reach
        # the error, which is logged, kept with the job and shown to on-call.
        parts = urlsplit(url)
        found = [url, parts.path, parts.password or "", *secrets]
        found += [value for _, value in parse_qsl(parts.query)]
        self._secrets = sorted({s for s in found if len(s) >= 8}, key=len, reverse=True)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    async def _post(self, body: dict[str, Any]) -> None:
        # Straight to a transport, not through an httpx client: a client logs every
        # request's URL, and a pager's URL is a secret. A transport (and so a connection)
        # per page: every page resolves and checks the pager's address afresh.
        request = httpx.Request("POST", self.url, json=body, extensions={"timeout": TIMEOUT})
        try:
            async with GuardedTransport(self._guard, retries=0) as transport:
                response = await transport.handle_async_request(request)
                await response.aread()
        except httpx.HTTPError as error:
            raise ConnectorError(
                self.name, f"unreachable: {self._scrub(str(error))}", transient=True
            ) from None
        if response.is_redirect:
            where = self._scrub(response.headers.get("location", ""))[:200]
            raise ConnectorError(
                self.name,
                f"HTTP {response.status_code}: redirects to {where or 'nowhere'} are not "
                "followed; set the pager's URL to where it should post",
            )
        if response.status_code >= 300:
            text = self._scrub(response.text)[:200]
            raise ConnectorError(self.name, f"HTTP {response.status_code}: {text}", transient=True)


def _check_url(guard: AddressGuard, url: str) -> None:
    """Fail at start, not at the first incident, on a URL that could never be paged."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{guard.connection}: the URL must be http(s)://host/...")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return  # a name: checked on every page, answer by answer
    why = guard.refusal(address)
    if why:
        raise ConfigError(f"{guard.connection}: {address} is {why}; {ALLOW_HINT}")


class WebhookPager(_Poster):
    """POSTs the incident as JSON to any URL (Opsgenie/Slack workflow/own tooling)."""

    def __init__(
        self, url: str, *, allow_private: Iterable[str] = (), resolver: Resolver | None = None
    ) -> None:
        super().__init__("pager webhook", url, allow_private=allow_private, resolver=resolver)

    async def page(self, incident: Incident) -> None:
        await self._post(webhook_body(incident))


class PagerDutyPager(_Poster):
    def __init__(
        self,
        routing_key: str,
        url: str = PAGERDUTY_EVENTS_URL,
        runbook_base: str = "",
        *,
        allow_private: Iterable[str] = (),
        resolver: Resolver | None = None,
    ) -> None:
        super().__init__(
            "pagerduty", url, routing_key, allow_private=allow_private, resolver=resolver
        )
        self.routing_key = routing_key
        self.runbook_base = runbook_base

    async def page(self, incident: Incident) -> None:
        await self._post(pagerduty_body(incident, self.routing_key, base_url=self.runbook_base))


class Pagers:
    """Pages every configured pager; with none configured, paging is a no-op."""

    def __init__(self, pagers: Sequence[Pager] = ()) -> None:
        self.pagers = list(pagers)

    async def page(self, incident: Incident) -> None:
        for pager in self.pagers:
            await pager.page(incident)
