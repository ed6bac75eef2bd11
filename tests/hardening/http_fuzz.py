"""Malformed and mutated requests for a running `baton web`, from a seeded generator.

Each `Probe` is one HTTP request: Slack commands, clicks, modal submissions and events
(signed correctly, signed with the wrong secret, unsigned), Teams activities (no token, a
garbage token, a token signed by a key nobody publishes), signed and forged case hooks;
their bodies valid and then mutated (fields dropped, retyped, filled with control characters,
nested 10,000 deep, made large, cut short, bytes flipped), under odd content types.

Used by `test_http_fuzz_server.py`, and by hand for a longer run against any server:

    python -m tests.hardening.http_fuzz http://127.0.0.1:3000 --count 6000 --seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

SLACK_SECRET = "fuzz-signing-secret"
HOOK_SECRET = "fuzz-hook-secret"
HOOK_SOURCE = "support_tickets"
DEEP = 10_000
SERVICE_URL = "http://127.0.0.1:9/teams/"

CONTENT_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-16",
    "application/json; charset=no-such-charset",
    "text/plain; charset=bogus",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/octet-stream",
    "",
    "application/json;;; charset=",
    "*/*",
)
ODD_TEXT = (
    "",
    " ",
    "\x00",
    "id\r\nX-Injected: 1",
    "\x1b[31mred",
    "é" * 5,
    "../../etc/passwd",
    "{{ 7*7 }}",
    "<@U1>",
    "a" * 3000,
    "\ud800",
    "\u202e",
)


@dataclass
class Probe:
    """One request, and what it is (for counting answers by kind)."""

    kind: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    raw_headers: dict[str, bytes] = field(default_factory=dict)
    """Header values sent byte for byte (invalid UTF-8, say), which an HTTP client refuses:
    a probe with any goes over a plain socket."""


def slack_headers(body: bytes, secret: str | None, stamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature of `body` under `secret` (none when `secret` is None)."""
    if secret is None:
        return {}
    at = str(int(time.time()) if stamp is None else stamp)
    digest = hmac.new(secret.encode(), b"v0:" + at.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": at, "X-Slack-Signature": "v0=" + digest.hexdigest()}


def hook_headers(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Baton-Signature": "sha256=" + digest}


def deep_json(depth: int = DEEP, opener: str = "[") -> bytes:
    if opener == "{":
        return ('{"a":' * depth + "1" + "}" * depth).encode()
    return ("[" * depth + "]" * depth).encode()


# --- valid payloads, before mutation ---------------------------------------------------


def command(rng: random.Random) -> dict[str, Any]:
    text = rng.choice(["list", "help", "status o1", "pause all", "Cut churn by 2 points by Q1"])
    return {
        "token": "deprecated",
        "team_id": "T1",
        "channel_id": "C1",
        "user_id": rng.choice(["olivia", "alice", "U1"]),
        "command": "/outcome",
        "text": text,
        "response_url": "https://hooks.slack.invalid/commands/1",
        "trigger_id": f"trigger-{rng.getrandbits(40)}",
        "api_app_id": "A1",
    }


def click(rng: random.Random) -> dict[str, Any]:
    n = rng.getrandbits(30)
    return {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "double"},
        "user": {"id": rng.choice(["alice", "mallory"]), "team_id": "T1"},
        "api_app_id": "A1",
        "trigger_id": f"trigger-{n}",
        "channel": {"id": "C1", "name": "general"},
        "message": {"type": "message", "ts": "1.1", "text": "..."},
        "actions": [
            {
                "type": "button",
                "action_id": "baton_" + rng.choice(["approve", "confirm", "cancel", "rule"]),
                "block_id": "b1",
                "value": rng.choice(["a1", "a999", "s1", "i1"]),
                "action_ts": f"1700001000.{n:06d}",
            }
        ],
    }


def submission(rng: random.Random) -> dict[str, Any]:
    meta = {"approval": "a1", "channel": "C1", "thread": "", "message": "1.1"}
    return {
        "type": "view_submission",
        "team": {"id": "T1"},
        "user": {"id": "alice", "team_id": "T1"},
        "view": {
            "id": f"V{rng.getrandbits(30)}",
            "type": "modal",
            "callback_id": "baton_reject_reason",
            "private_metadata": json.dumps(meta),
            "state": {"values": {"reason": {"reason_input": {"value": "too risky"}}}},
        },
    }


def event(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["app_mention", "message", "app_home_opened"])
    inner: dict[str, Any] = {"type": kind, "user": "olivia", "channel": "C1", "ts": "1.2"}
    if kind == "message":
        inner["channel_type"] = rng.choice(["im", "channel"])
    if kind == "app_home_opened":
        inner["tab"] = "home"
    inner["text"] = "<@UBATON> status o1"
    return {
        "token": "deprecated",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": f"Ev{rng.getrandbits(40)}",
        "event_time": 1700000000,
        "event": inner,
    }


def activity(rng: random.Random) -> dict[str, Any]:
    return {
        "type": rng.choice(["message", "invoke", "conversationUpdate"]),
        "id": f"act-{rng.getrandbits(40)}",
        "channelId": "msteams",
        "serviceUrl": SERVICE_URL,
        "from": {"id": "29:mallory", "aadObjectId": "mallory"},
        "recipient": {"id": "28:baton-bot"},
        "conversation": {"id": "19:c@thread.tacv2", "tenantId": "tenant-1"},
        "text": "status o1",
        "name": "adaptiveCard/action",
        "value": {"action": {"type": "Action.Execute", "verb": "approve", "data": {}}},
    }


def ticket(rng: random.Random) -> dict[str, Any]:
    return {
        "ticket_id": f"TCK-{rng.getrandbits(32)}",
        "opened_at": "2027-01-04T09:00:00Z",
        "customer": "Acme",
        "subject": "Refund",
    }


# --- mutations -------------------------------------------------------------------------


def junk(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return rng.choice(
            [None, True, 0, -1, 2**70, 1.5e308, "", rng.choice(ODD_TEXT), "T2", "a1", [], {}]
        )
    if roll < 0.75:
        return [junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["id", "type", "value", "x", ""]): junk(rng, depth + 1) for _ in range(2)}


def mutate(rng: random.Random, payload: Any, rounds: int = 3) -> Any:
    """`payload` with a few random fields dropped, replaced or nested deep."""
    for _ in range(rounds):
        target, key = _pick(rng, payload)
        if target is None:
            return junk(rng)
        roll = rng.random()
        if roll < 0.3:
            del target[key]
        elif roll < 0.8:
            target[key] = junk(rng)
        elif roll < 0.9:
            target[key] = rng.choice(ODD_TEXT)
        else:
            target[key] = _nested(rng.randint(50, 3000))
    return payload


def _pick(rng: random.Random, payload: Any) -> tuple[Any, Any]:
    """A random container inside `payload` and one of its keys (or indexes)."""
    node, chosen = payload, (None, None)
    for _ in range(6):
        if isinstance(node, dict) and node:
            key: Any = rng.choice(list(node))
        elif isinstance(node, list) and node:
            key = rng.randrange(len(node))
        else:
            break
        chosen = (node, key)
        if rng.random() < 0.4:
            break
        node = node[key]
    return chosen


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if depth % 2 else {"a": value}
    return value


def corrupt(rng: random.Random, body: bytes) -> bytes:
    """Bytes flipped, cut short, repeated or padded to a large body."""
    roll = rng.random()
    if roll < 0.3 and body:
        data = bytearray(body)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if roll < 0.5:
        return body[: rng.randrange(len(body) + 1)]
    if roll < 0.7:
        return body * rng.randint(2, 200)
    if roll < 0.85:
        return body + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return body + b" " * rng.randint(100_000, 900_000)


# --- probes ----------------------------------------------------------------------------


def _encode(rng: random.Random, payload: Any, form: bool) -> bytes:
    try:
        text = json.dumps(payload)
    except (ValueError, RecursionError):
        text = json.dumps(junk(rng))
    if form and isinstance(payload, dict) and "command" in payload:
        fields = {k: v if isinstance(v, str) else text for k, v in payload.items()}
        return urlencode(fields, errors="surrogatepass").encode()
    if form:
        return urlencode({"payload": text}).encode()
    return text.encode()


def slack_probe(rng: random.Random) -> Probe:
    maker = rng.choice([command, click, submission, event])
    payload = maker(rng)
    if rng.random() < 0.85:
        payload = mutate(rng, payload, rng.randint(1, 4))
    form = maker is not event
    body = _encode(rng, payload, form)
    if rng.random() < 0.15:
        body = deep_json(rng.choice([DEEP, 900, 300]), rng.choice("[{"))
    elif rng.random() < 0.25:
        body = corrupt(rng, body)
    if rng.random() < 0.05 and form:
        body = urlencode({"payload": deep_json().decode()}).encode()
    kind = "application/x-www-form-urlencoded" if form else "application/json"
    if rng.random() < 0.3:
        kind = rng.choice(CONTENT_TYPES)
    secret = rng.choices([SLACK_SECRET, None, "wrong-secret"], weights=[6, 2, 2])[0]
    headers = {"Content-Type": kind, **slack_headers(body, secret)}
    if secret and rng.random() < 0.05:
        headers["X-Slack-Request-Timestamp"] = rng.choice(["abc", "", "1e3", "٣", "-1", "9" * 5000])
    if secret and rng.random() < 0.03:
        headers["X-Slack-Signature"] = "v0=é" + "0" * 60
    label = f"slack:{maker.__name__}:{'signed' if secret == SLACK_SECRET else 'unsigned'}"
    return Probe(label, "/slack/events", body, headers)


@dataclass
class Tokens:
    """Bearer tokens for Teams probes: `valid` verifies (its activity's service URL is
    `activity`'s), `forged` do not (signed by a key nobody publishes, expired, ...)."""

    valid: str | None = None
    forged: list[str] = field(default_factory=list)


def teams_probe(rng: random.Random, tokens: Tokens) -> Probe:
    payload: Any = activity(rng)
    if rng.random() < 0.8:
        payload = mutate(rng, payload, rng.randint(1, 4))
    body = _encode(rng, payload, form=False)
    unreadable = rng.random() < 0.35
    if unreadable:  # a verified sender's body must still be read at the door
        body = rng.choice([deep_json(rng.choice([DEEP, 900, 300]), rng.choice("[{")), body * 2])
    elif rng.random() < 0.2:
        body = corrupt(rng, body)
    auth = rng.choice(
        [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer a.b.c", "Bearer ...",
         "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer " + "x" * 20_000]
        + [f"Bearer {t}" for t in tokens.forged]
    )  # fmt: skip
    if unreadable and tokens.valid and rng.random() < 0.5:
        auth = f"Bearer {tokens.valid}"
    headers = {"Content-Type": rng.choice(CONTENT_TYPES)}
    if auth is not None:
        headers["Authorization"] = auth
    return Probe("teams:" + ("token" if auth else "none"), "/api/messages", body, headers)


def hook_probe(rng: random.Random) -> Probe:
    payload: Any = ticket(rng)
    roll = rng.random()
    if roll < 0.3:
        payload["ticket_id"] = rng.choice((*ODD_TEXT, "TCK\x01", "TCK\n2", "TCK\x7f", "€1"))
    elif roll < 0.7:
        payload = mutate(rng, payload, rng.randint(1, 3))
    body = _encode(rng, payload, form=False)
    if rng.random() < 0.15:
        body = deep_json(rng.choice([DEEP, 900, 300]), rng.choice("[{"))
    elif rng.random() < 0.2:
        body = corrupt(rng, body)
    forged = rng.random() < 0.3
    headers = hook_headers(body, "wrong-secret" if forged else HOOK_SECRET)
    if forged and rng.random() < 0.2:
        headers["X-Baton-Signature"] = rng.choice(["sha256=é", "", "sha256=", "é" * 64])
    headers["Content-Type"] = rng.choice(CONTENT_TYPES)
    source = HOOK_SOURCE if rng.random() < 0.9 else rng.choice(["contracts", "nope", "%00"])
    return Probe(f"hook:{'forged' if forged else 'signed'}", f"/hooks/{source}", body, headers)


RAW_VALUES = (b"\xff", b"\xff\xfe", "é".encode(), b"\xc3", b"\xed\xa0\x80", b"\x80abc")


def raw_probe(rng: random.Random, probe: Probe) -> Probe:
    """`probe` with one header's value made of bytes that are not UTF-8 (or not ASCII)."""
    name = rng.choice(
        ["Authorization", "Content-Type", "X-Slack-Signature", "X-Slack-Request-Timestamp",
         "X-Baton-Signature", "X-Request-Id"]
    )  # fmt: skip
    kept = probe.headers.pop(name, "").encode()
    cut = rng.randrange(len(kept) + 1)
    probe.raw_headers[name] = kept[:cut] + rng.choice(RAW_VALUES) + kept[cut:]
    probe.kind += ":raw"
    return probe


def probes(seed: int, count: int, tokens: Tokens | None = None) -> Iterator[Probe]:
    """`count` probes from `seed`: the same seed gives the same requests (but timestamps)."""
    rng = random.Random(seed)
    makers: list[Callable[[], Probe]] = [
        lambda: slack_probe(rng),
        lambda: teams_probe(rng, tokens or Tokens()),
        lambda: hook_probe(rng),
    ]
    for _ in range(count):
        probe = rng.choices(makers, weights=[5, 3, 2])[0]()
        yield raw_probe(rng, probe) if rng.random() < 0.08 else probe


# --- sending ---------------------------------------------------------------------------


@dataclass
class Answers:
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[tuple[str, int, bytes]] = field(default_factory=list)
    by_kind: Counter[tuple[str, int]] = field(default_factory=Counter)
    in_order: list[int] = field(default_factory=list)
    """Each probe's status, in the order the probes were given."""


async def send(base_url: str, all_probes: list[Probe], *, parallel: int = 8) -> Answers:
    """Send every probe (a few at a time); count the answers, keep each 5xx's request."""
    answers = Answers(in_order=[0] * len(all_probes))
    queue = list(reversed(list(enumerate(all_probes))))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def worker() -> None:
            while queue:
                index, probe = queue.pop()
                status = await _one(session, base_url, probe)
                answers.in_order[index] = status
                answers.statuses[status] += 1
                answers.by_kind[(probe.kind, status)] += 1
                if status >= 500:
                    answers.server_errors.append((probe.kind, status, probe.body[:300]))

        await asyncio.gather(*(worker() for _ in range(parallel)))
    return answers


async def _one(session: aiohttp.ClientSession, base_url: str, probe: Probe) -> int:
    if probe.raw_headers:
        return await _one_raw(base_url, probe)
    try:
        async with session.request(
            probe.method, base_url + probe.path, data=probe.body, headers=probe.headers,
            skip_auto_headers={"Content-Type"},
        ) as response:  # fmt: skip
            await response.read()
            return response.status
    except aiohttp.ClientError:
        return 0  # no answer: the server closed the connection


async def _one_raw(base_url: str, probe: Probe) -> int:
    """The probe over a plain socket; the status of the answer (0 if none)."""
    url = URL(base_url)
    head = [f"{probe.method} {probe.path} HTTP/1.1".encode(), f"Host: {url.host}".encode()]
    head += [f"{k}: {v}".encode() for k, v in probe.headers.items()]
    head += [k.encode() + b": " + v for k, v in probe.raw_headers.items()]
    head += [b"Content-Length: %d" % len(probe.body), b"Connection: close"]
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + probe.body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 30)
    except (OSError, TimeoutError):
        return 0
    finally:
        writer.close()
    parts = status_line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--count", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    answers = asyncio.run(send(args.base_url, list(probes(args.seed, args.count))))
    print(json.dumps(dict(sorted(answers.statuses.items())), indent=None))
    for (kind, status), n in sorted(answers.by_kind.items()):
        if status >= 500 or status == 0:
            print(f"{kind} {status}: {n}")


if __name__ == "__main__":
    main()
