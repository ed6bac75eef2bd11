"""Reading an email out of a step's drafted artifact.

A draft may start with header lines (`Subject:`, `From:`, `To:`); the rest is the body.
The draft is data: it is parsed, never rendered as a template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(r"^(subject|from|to|reply-to)\s*:\s*(.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class EmailDraft:
    subject: str
    body: str
    sender: str = ""
    to: tuple[str, ...] = ()
    reply_to: str = ""


def parse_draft(text: str) -> EmailDraft:
    """Split leading headers from the body of `text`."""
    headers: dict[str, str] = {}
    lines = text.strip("\n").splitlines()
    index = 0
    for index, line in enumerate(lines):  # noqa: B007 (the index is used after the loop)
        match = _HEADER.match(line)
        if match is None:
            break
        headers[match.group(1).lower()] = match.group(2).strip()
    else:
        index = len(lines)
    return EmailDraft(
        subject=headers.get("subject", ""),
        body="\n".join(lines[index:]).strip("\n") + "\n",
        sender=headers.get("from", ""),
        to=addresses(headers.get("to", "")),
        reply_to=headers.get("reply-to", ""),
    )


def addresses(text: str) -> tuple[str, ...]:
    """Comma- or semicolon-separated addresses, stripped, empty ones dropped."""
    return tuple(a.strip() for a in re.split(r"[,;]", text) if a.strip())
