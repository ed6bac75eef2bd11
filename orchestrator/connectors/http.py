"""The `http` connector: httpx, JSON in and out, metrics by JSON path.

Retries: httpx's transport reconnects `retries` times when a connection cannot be opened
(nothing was sent). Anything later (a timeout, a 5xx, a 429) is a transient
`ConnectorError`, and the step's job is retried with backoff by the worker; every
request carries an `Idempotency-Key`, and the delivery ledger skips requests already
accepted, so a retried batch sends each request at most once from Baton's side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse as parse_path

from orchestrator.connectors import Work
from orchestrator.connectors.delivering import DeliveringConnector
from orchestrator.connectors.guard import GuardedTransport
from orchestrator.connectors.ledger import SENDING, SENT
from orchestrator.connectors.payload import (
    PayloadError,
    encode,
    join_url,
    render_body,
    render_url,
)
from orchestrator.steps.templates import TemplateFailed, render
from orchestrator.workspace.catalog import Action, Metric

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
SHOWN = 5
"""Requests shown in a receipt; the count is always complete."""
MAX_REDIRECTS = 5


@dataclass
class Request:
    """One request, fully rendered: what is sent, and (scrubbed) what a receipt shows."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any = None
    item: str = "0"
    extra: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes | None:
        return None if self.body is None else encode(self.body)


class HttpConnector(DeliveringConnector):
    """A JSON API."""

    noun = "requests"

    def _configure(self) -> None:
        connection = self.connection
        self.base = self.secrets.expand(connection.url, where="url") if connection.url else ""
        self._fixed = self._fixed_headers()
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(self.guard, retries=connection.retries),
            timeout=connection.timeout_s,
            headers=self._fixed,
            follow_redirects=False,
        )

    def _fixed_headers(self) -> dict[str, str]:
        headers = {
            k: self.secrets.expand(v, where=f"headers.{k}")
            for k, v in self.connection.headers.items()
        }
        auth = self.connection.auth
        if auth is not None and auth.bearer:
            headers["Authorization"] = "Bearer " + self.secrets.expand(
                auth.bearer, where="auth.bearer"
            )
        elif auth is not None:
            headers[auth.header] = self.secrets.expand(auth.value, where="auth.value")
        return headers

    async def measure(self, *, metric: Metric) -> float:
        data = await self._get_json(metric.url, {})
        try:
            found = [m.value for m in parse_path(metric.query).find(data)]
        except JSONPathError as error:
            raise self.secrets.error(f"JSON path {metric.query!r} is invalid: {error}") from None
        if len(found) != 1:
            raise self.secrets.error(f"JSON path {metric.query!r} matched {len(found)} values")
        value = found[0]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.secrets.error(f"JSON path {metric.query!r} gave {value!r}, not a number")
        try:
            return float(value)
        except ValueError:
            raise self.secrets.error(f"JSON path {metric.query!r} gave {value!r}") from None

    async def fetch(self, *, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """GET `query` (a URL template over `params`); the response must be a list of objects."""
        data = await self._get_json(query, {"params": dict(params)})
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise self.secrets.error(f"GET {query}: expected a JSON list of objects")
        return data

    async def perform(self, work: Work) -> dict[str, Any]:
        requests = self.requests(work)
        if work.shadow:
            return {
                "shadow": True,
                "noun": self.noun,
                "executions": len(requests),
                "requests": [self.show(r) for r in requests[:SHOWN]],
            }
        return await self.deliver(requests, work.key)

    def requests(self, work: Work) -> list[Request]:
        """One request, or one per row when the action runs `for_each` row."""
        params, rows, key = dict(work.params), work.rows, work.key
        contexts = (
            [{"params": params, "row": row, "rows": rows} for row in rows]
            if work.action.for_each
            else [{"params": params, "rows": rows}]
        )
        many = bool(work.action.for_each)
        return [
            self._request(work.action, ctx, f"{key}:{i}" if many else key, str(i))
            for i, ctx in enumerate(contexts)
        ]

    def _request(self, action: Action, ctx: dict[str, Any], ident: str, item: str) -> Request:
        where = f"connection {self.name!r} action"
        try:
            url = join_url(self.base, render_url(action.url or "", ctx, name=f"{where} url"))
            headers = {
                k: render(v, ctx, name=f"{where} headers.{k}") for k, v in action.headers.items()
            }
            body = render_body(action.body, ctx, name=f"{where} body")
        except (PayloadError, TemplateFailed) as error:
            raise self.secrets.error(f"cannot build the request: {error}") from None
        headers["Idempotency-Key"] = ident
        return Request(action.method, url, headers, body, item)

    def show(self, request: Request) -> dict[str, Any]:
        """What a receipt says about `request`: everything but secrets."""
        fixed = {k: self.secrets.scrub(v) for k, v in self._fixed.items()}
        fixed.update({k: self.secrets.scrub(v) for k, v in request.headers.items()})
        shown: dict[str, Any] = {
            "method": request.method,
            "url": self.secrets.scrub(request.url),
            "headers": fixed,
        }
        if request.body is not None:
            shown["json"] = request.body
        return shown

    async def deliver(self, requests: list[Request], key: str) -> dict[str, Any]:
        """Send each request at most once per `key`; a transient failure stops the batch."""
        counts = {"sent": 0, "skipped": 0}
        statuses: list[int] = []
        for request in requests:
            if self.ledger is not None:
                earlier = await self.ledger.claim(key=key, item=request.item)
                if earlier == SENT:
                    counts["skipped"] += 1
                    continue
                # `sending` means the answer was lost: the same Idempotency-Key lets the
                # receiver recognise the repeat, so it is safe to ask again.
                assert earlier in ("", SENDING)
            statuses.append(await self._send(request, key))
            counts["sent"] += 1
        return {"noun": self.noun, "executions": len(requests), **counts, "statuses": statuses}

    async def _send(self, request: Request, key: str) -> int:
        what = f"{request.method} {self.secrets.scrub(request.url)}"
        response = await self._call(
            what, request.method, request.url, request.content(), self._json(request)
        )
        if response.is_success:
            if self.ledger is not None:
                await self.ledger.confirm(key=key, item=request.item)
            return response.status_code
        if self.ledger is not None and response.status_code < 500:
            await self.ledger.release(key=key, item=request.item)
        transient = response.status_code in TRANSIENT_STATUS
        raise self.secrets.error(f"{what} answered {response.status_code}", transient=transient)

    @staticmethod
    def _json(request: Request) -> dict[str, str]:
        if request.body is None:
            return request.headers
        return {"Content-Type": "application/json", **request.headers}

    async def _get_json(self, url: str, ctx: dict[str, Any]) -> Any:
        try:
            full = join_url(self.base, render_url(url, ctx, name=f"connection {self.name!r} url"))
        except PayloadError as error:
            raise self.secrets.error(str(error)) from None
        what = f"GET {self.secrets.scrub(full)}"
        response = await self._call(what, "GET", full, None, {})
        if not response.is_success:
            transient = response.status_code in TRANSIENT_STATUS
            raise self.secrets.error(f"{what} answered {response.status_code}", transient=transient)
        try:
            return response.json()
        except ValueError:
            raise self.secrets.error(f"{what}: the response is not JSON") from None

    async def _call(
        self, what: str, method: str, url: str, content: bytes | None, headers: dict[str, str]
    ) -> httpx.Response:
        # A timeout or a dropped connection may hide a request that arrived: transient,
        # and safe to repeat because the Idempotency-Key is repeated with it.
        try:
            response = await self._client.request(method, url, content=content, headers=headers)
            return await self._follow(what, response)
        except httpx.TimeoutException:
            raise self.secrets.error(f"{what} timed out", transient=True) from None
        except httpx.HTTPError as error:
            detail = f"{what} failed: {type(error).__name__}"
            raise self.secrets.error(detail, transient=True) from None

    async def _follow(self, what: str, response: httpx.Response) -> httpx.Response:
        """Follow redirects that keep the method (each hop's address passes the guard).

        A redirect that would turn a POST into a GET is not followed: the receiver never
        got the body, so it stays an error instead of a false success. A hop to another
        host carries none of the connection's configured headers (credentials).
        """
        for _ in range(MAX_REDIRECTS):
            hop = response.next_request
            if hop is None or hop.method != response.request.method:
                return response
            if _origin(hop.url) != _origin(response.request.url):
                for header in self._fixed:
                    hop.headers.pop(header, None)
            response = await self._client.send(hop)
        raise self.secrets.error(f"{what}: more than {MAX_REDIRECTS} redirects")

    async def close(self) -> None:
        """Close the HTTP client's pooled connections."""
        await self._client.aclose()


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port
