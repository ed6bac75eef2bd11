"""The one exception root of the core, with structured fields."""

from __future__ import annotations


class BatonError(Exception):
    """Root of every error Baton raises on purpose."""


class ConfigError(BatonError):
    """The workspace file or the settings are wrong; the message says where and what."""


class NotFound(BatonError):
    """A record that was asked for does not exist."""

    def __init__(self, kind: str, record_id: str) -> None:
        super().__init__(f"{kind} {record_id} not found")
        self.kind = kind
        self.record_id = record_id


class IllegalTransition(BatonError):
    """A transition that the state machine never allows (a bug, not a race)."""

    def __init__(self, kind: str, source: str, target: str) -> None:
        super().__init__(f"{kind}: {source} -> {target} is not a legal transition")
        self.kind = kind
        self.source = source
        self.target = target


class TransitionRefused(BatonError):
    """A compare-and-set refused: the record was not in the state the caller expected."""

    def __init__(self, key: str, expected: tuple[str, ...], actual: str, reason: str = "") -> None:
        detail = reason or f"expected {'/'.join(expected) or 'absent'}, found {actual or 'absent'}"
        super().__init__(f"{key}: {detail}")
        self.key = key
        self.expected = expected
        self.actual = actual
        self.reason = reason


class TakenOver(BatonError):
    """A job's commit refused because another worker took the job over: the worker that
    held it past its visibility timeout must leave it alone (no commit, no acknowledgement,
    no retry), since the job is now the other worker's. Not a `TransitionRefused`, so that
    no handler mistakes it for a race it may shrug off: it ends the job's run at once."""

    def __init__(self, entry_id: str) -> None:
        super().__init__(f"job {entry_id} was taken over by another worker")
        self.entry_id = entry_id


class NotAllowed(BatonError):
    """The person asking may not do this (for example, decide an approval they are not on)."""

    def __init__(self, user: str, what: str) -> None:
        super().__init__(f"{user} may not {what}")
        self.user = user
        self.what = what


class ConnectorError(BatonError):
    """A connector call failed; names the connection and what failed, never a secret."""

    def __init__(self, connection: str, what: str, *, transient: bool = False) -> None:
        super().__init__(f"connection {connection!r}: {what}")
        self.connection = connection
        self.what = what
        self.transient = transient


class Deferred(BatonError):
    """Not now: the job that raised this should run again after `seconds`.

    Raised by a delivery that must wait its turn (a paced channel, a 429's Retry-After)
    longer than is worth holding a worker for. It is not a failure: the job keeps its
    attempt count and comes back from the timers when its turn is due.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(f"deferred for {seconds:.1f}s")
        self.seconds = seconds


class Unavailable(BatonError):
    """A system the job depends on is down or refusing for now (a chat platform answering
    5xx or 429, a connection refused): not the job's fault, so it does not count toward
    the job's failures. The worker runs it again with capped backoff, for as long as the
    outage lasts up to `BATON_OUTAGE_GIVE_UP_H`, and only then gives up on it.

    `channel` names what is failing (a chat conversation, a connection), so that an outage
    can be reported per channel; `seconds`, when known (a Retry-After), is the least wait.
    """

    def __init__(self, channel: str, what: str, *, seconds: float | None = None) -> None:
        super().__init__(f"{channel} unavailable: {what}")
        self.channel = channel
        self.what = what
        self.seconds = seconds


class Refused(BatonError):
    """A system refused a job's request for good (a chat platform that will never take this
    message here: a channel that is gone, a bot that was removed, a token revoked): running
    the job again cannot help, so it is set aside at once, with its incident, not retried.

    `channel` names where it was refused; `what` says what was refused and why; `code` is
    the platform's own word for it (Slack's error, an HTTP status), when it has one.
    """

    def __init__(self, channel: str, what: str, *, code: str = "") -> None:
        super().__init__(f"{channel} refused: {what}")
        self.channel = channel
        self.what = what
        self.code = code
