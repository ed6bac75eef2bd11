"""The `smtp` connector: aiosmtplib, STARTTLS or TLS, one message per recipient.

Exactly once per recipient: before a message goes out, the recipient is claimed in the
delivery ledger under the step id; when the server accepts it, it is marked sent. A retry
skips sent recipients and never re-sends one whose answer was lost mid-message (it is
reported as unconfirmed instead); a recipient the server refused for certain is released
and tried again. Each message also carries a Message-ID derived from the step id and the
recipient, so mail systems can recognise a duplicate too.

The relay's address passes the outbound guard (`allow_private` admits private ones): the
socket is opened to the checked address, and TLS (STARTTLS or implicit) still verifies
the certificate against the host name in the URL.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_none

from orchestrator.connectors import Work
from orchestrator.connectors.delivering import DeliveringConnector
from orchestrator.connectors.email_draft import EmailDraft, addresses, parse_draft
from orchestrator.connectors.ledger import SENT, DeliveryLedger
from orchestrator.steps.templates import TemplateFailed, render
from orchestrator.workspace.catalog import Metric

SHOWN = 20
_RESULTS = ("sent", "skipped", "unconfirmed", "refused")
_CONNECT_ERRORS = (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError, OSError)
_LOST = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError)


class SmtpConnector(DeliveringConnector):
    """An SMTP relay. It sends; it cannot measure or read."""

    def _configure(self) -> None:
        connection = self.connection
        self.host, self.port = self._relay(self.secrets.expand(connection.url, where="url"))
        self.username = self.secrets.expand(connection.username, where="username")
        self.password = self.secrets.expand(connection.password, where="password")
        self.sender = self.secrets.expand(connection.sender, where="sender")
        self.ca_file = self.secrets.expand(connection.ca_file, where="ca_file")

    def _relay(self, url: str) -> tuple[str, int]:
        """Host and port of `smtp://host:port` (`[v6]` hosts too); the port defaults by TLS."""
        parts = urlsplit(url if "://" in url else f"smtp://{url}")
        try:
            port = parts.port
        except ValueError:
            raise self.secrets.error("the url has no valid port") from None
        if not parts.hostname:
            raise self.secrets.error("the url names no host")
        return parts.hostname, port or (465 if self.connection.tls == "tls" else 587)

    async def measure(self, *, metric: Metric) -> float:
        raise self.secrets.error("an smtp connection cannot be measured")

    async def fetch(self, *, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        raise self.secrets.error("an smtp connection cannot be read")

    async def perform(self, work: Work) -> dict[str, Any]:
        draft = parse_draft(str(work.params.get("draft", "")))
        sender = draft.sender or self.sender
        recipients = self.recipients(work, draft)
        if not sender or not recipients or not draft.subject:
            missing = [
                n
                for n, v in (
                    ("a sender", sender),
                    ("recipients", recipients),
                    ("a subject", draft.subject),
                )
                if not v
            ]
            raise self.secrets.error(f"the email has no {' and no '.join(missing)}")
        if work.shadow:
            return {
                "shadow": True,
                "noun": "emails",
                "executions": len(recipients),
                "email": {"from": sender, "subject": draft.subject, "body": draft.body},
                "recipients": list(recipients[:SHOWN]),
            }
        if self.ledger is None:
            raise self.secrets.error("no delivery ledger is configured; refusing to send")
        return await self._send_all(self.ledger, draft, sender, recipients, work.key)

    def recipients(self, work: Work, draft: EmailDraft) -> list[str]:
        """From the action's `to` template (per row with `for_each`), else each row's
        `email`, else the draft's `To:` line; each address once, in order."""
        action, params, rows = work.action, dict(work.params), work.rows
        found: list[str] = []
        try:
            if action.to and action.for_each:
                for row in rows:
                    found += addresses(render(action.to, {"params": params, "row": row}))
            elif action.to:
                found += addresses(render(action.to, {"params": params, "rows": rows}))
            elif action.for_each:
                found += [str(row["email"]) for row in rows if row.get("email")]
            else:
                found += draft.to
        except TemplateFailed as error:
            raise self.secrets.error(f"cannot work out the recipients: {error}") from None
        return list(dict.fromkeys(found))

    async def _send_all(
        self, ledger: DeliveryLedger, draft: EmailDraft, sender: str, to: list[str], key: str
    ) -> dict[str, Any]:
        outcome: dict[str, list[str]] = {
            k: [] for k in ("sent", "skipped", "unconfirmed", "refused")
        }
        client = await self._connect()
        try:
            for recipient in to:
                earlier = await ledger.claim(key=key, item=recipient)
                if earlier:
                    outcome["skipped" if earlier == SENT else "unconfirmed"].append(recipient)
                    continue
                message = self._message(draft, sender, recipient, key)
                outcome[await self._send_one(client, ledger, message, key, recipient)].append(
                    recipient
                )
        finally:
            await _quit(client)
        return {
            "noun": "emails",
            "executions": len(to),
            **{k: len(v) for k, v in outcome.items()},
            "unconfirmed_recipients": outcome["unconfirmed"][:SHOWN],
            "refused_recipients": outcome["refused"][:SHOWN],
        }

    async def _send_one(
        self,
        client: aiosmtplib.SMTP,
        ledger: DeliveryLedger,
        message: EmailMessage,
        key: str,
        recipient: str,
    ) -> str:
        """`sent`, `refused` (permanently, by the server), or raises to retry the step."""
        try:
            await client.mail(str(message["From"]))
        except aiosmtplib.SMTPResponseException as error:
            # A refused sender (or a session the server will not serve, such as plain text
            # where it requires STARTTLS) is about the connection, not this recipient.
            await ledger.release(key=key, item=recipient)
            raise self.secrets.error(
                f"the server refused the sender: {error.code} {error.message}",
                transient=error.code < 500,
            ) from None
        except _LOST:
            await ledger.release(key=key, item=recipient)
            raise self.secrets.error("the server went away", transient=True) from None
        try:
            await client.rcpt(recipient)
        except aiosmtplib.SMTPResponseException as error:
            await ledger.release(key=key, item=recipient)
            await _reset(client)
            if error.code >= 500:
                return "refused"
            raise self.secrets.error(
                f"the server deferred {recipient}: {error.code}", transient=True
            ) from None
        except _LOST:
            await ledger.release(key=key, item=recipient)  # nothing was handed over yet
            raise self.secrets.error("the server went away", transient=True) from None
        try:
            await client.data(message.as_bytes())
        except aiosmtplib.SMTPResponseException as error:
            await ledger.release(key=key, item=recipient)  # it answered: not accepted
            raise self.secrets.error(
                f"the server did not accept the message to {recipient}: {error.code}",
                transient=error.code < 500,
            ) from None
        except _LOST:
            # The message may have arrived: it stays claimed and is never sent again.
            raise self.secrets.error(
                f"the connection dropped while sending to {recipient}", transient=True
            ) from None
        await ledger.confirm(key=key, item=recipient)
        return SENT

    def _message(self, draft: EmailDraft, sender: str, recipient: str, key: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = recipient
        message["Subject"] = draft.subject
        message["Date"] = formatdate(localtime=False)
        digest = hashlib.sha256(f"{key}:{recipient}".encode()).hexdigest()[:32]
        message["Message-ID"] = f"<{digest}@baton>"
        message["X-Baton-Idempotency-Key"] = f"{key}:{digest[:12]}"
        if draft.reply_to:
            message["Reply-To"] = draft.reply_to
        message.set_content(draft.body)
        return message

    async def _connect(self) -> aiosmtplib.SMTP:
        tls = self.connection.tls
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.connection.retries + 1),
                wait=wait_none(),
                retry=retry_if_exception_type(_CONNECT_ERRORS),
                reraise=True,
            ):
                with attempt:
                    return await self._session(tls)
        except aiosmtplib.SMTPAuthenticationError:
            raise self.secrets.error("the server refused the login") from None
        except (*_CONNECT_ERRORS, aiosmtplib.SMTPException) as error:
            what = f"cannot connect to {self.host}:{self.port}: {type(error).__name__}"
            raise self.secrets.error(what, transient=True) from None
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _session(self, tls: str) -> aiosmtplib.SMTP:
        """A session over a socket to the address the guard checked; `hostname` stays the
        URL's host, so STARTTLS and implicit TLS send it as SNI and verify the
        certificate against it."""
        sock = await self.guard.connect(self.host, self.port, self.connection.timeout_s)
        client = aiosmtplib.SMTP(
            hostname=self.host,
            sock=sock,
            use_tls=tls == "tls",
            start_tls=tls == "starttls",
            validate_certs=self.connection.verify_tls,
            cert_bundle=self.ca_file or None,
            timeout=self.connection.timeout_s,
            username=self.username or None,
            password=self.password or None,
        )
        try:
            await client.connect()
        except BaseException:
            sock.close()
            raise
        return client

    async def close(self) -> None:
        """Connections are per step; nothing stays open."""


async def _reset(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(aiosmtplib.SMTPException):
        await client.rset()


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
