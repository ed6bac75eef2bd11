"""Deadline phrases: "by 31 March", "by 2027-03-31", "this quarter", "within 6 weeks"."""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import UTC, date, datetime, time, timedelta

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b\.?"
_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
}
_NUM = r"(\d{1,3}|" + "|".join(_WORDS) + ")"
_LEAD = r"(?:\b(?:by|before|until|till|for)\s+)?(?:the\s+)?"

PATTERNS: list[tuple[str, str]] = [
    ("iso", _LEAD + r"(\d{4})-(\d{1,2})-(\d{1,2})\b"),
    ("end_quarter", _LEAD + r"end\s+of\s+(?:the\s+)?q([1-4])(?:\s+(\d{4}))?\b"),
    ("quarter", r"\b(?:by|before|in)\s+q([1-4])(?:\s+(\d{4}))?\b"),
    (
        "day_month",
        _LEAD + r"(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"(?:,?\s+(\d{4}))?",
    ),
    ("month_day", _LEAD + _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4}))?"),
    ("relative_end", _LEAD + r"(?:end\s+of\s+)?(this|next|the)\s+(month|quarter|year)\b"),
    ("end_plain", _LEAD + r"end\s+of\s+(month|quarter|year)\b"),
    ("end_month", _LEAD + r"end\s+of\s+" + _MONTH + r"(?:\s+(\d{4}))?"),
    ("within", r"\b(?:within|in|over)\s+(?:the\s+next\s+)?" + _NUM + r"\s+(day|week|month)s?\b"),
    ("end_of_year", _LEAD + r"(?:end\s+of\s+(?:the\s+)?year|year[-\s]end)\b"),
    ("month_only", r"\b(?:by|before|until)\s+(?:end\s+of\s+)?" + _MONTH + r"(?:\s+(\d{4}))?"),
]


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def _month_end(year: int, month: int) -> date:
    return date(year, month, monthrange(year, month)[1])


def _upcoming(today: date, month: int, day: int, year: str | None) -> date:
    if year:
        return date(int(year), month, day)
    candidate = date(today.year, month, day)
    return candidate if candidate >= today else date(today.year + 1, month, day)


def _quarter_end(today: date, quarter: int, year: str | None) -> date:
    if year:
        return _month_end(int(year), quarter * 3)
    end = _month_end(today.year, quarter * 3)
    return end if end >= today else _month_end(today.year + 1, quarter * 3)


def _relative(today: date, which: str, unit: str) -> date:
    ahead = 1 if which == "next" else 0
    if unit == "month":
        month = today.month + ahead
        year = today.year + (month - 1) // 12
        return _month_end(year, (month - 1) % 12 + 1)
    if unit == "quarter":
        quarter = (today.month - 1) // 3 + 1 + ahead
        year = today.year + (quarter - 1) // 4
        return _month_end(year, ((quarter - 1) % 4 + 1) * 3)
    return date(today.year + ahead, 12, 31)


def _within(today: date, amount: str, unit: str) -> date:
    count = int(amount) if amount.isdigit() else _WORDS[amount]
    if unit == "month":
        month = today.month + count
        year = today.year + (month - 1) // 12
        month = (month - 1) % 12 + 1
        return date(year, month, min(today.day, monthrange(year, month)[1]))
    return today + timedelta(days=count * (7 if unit == "week" else 1))


def _resolve(kind: str, groups: tuple[str | None, ...], today: date) -> date:
    g = [x or "" for x in groups]
    if kind == "iso":
        return date(int(g[0]), int(g[1]), int(g[2]))
    if kind in ("end_quarter", "quarter"):
        return _quarter_end(today, int(g[0]), g[1] or None)
    if kind == "day_month":
        return _upcoming(today, MONTHS[g[1]], int(g[0]), g[2] or None)
    if kind == "month_day":
        return _upcoming(today, MONTHS[g[0]], int(g[1]), g[2] or None)
    if kind == "relative_end":
        return _relative(today, g[0], g[1])
    if kind == "end_plain":
        return _relative(today, "this", g[0])
    if kind in ("end_month", "month_only"):
        month = MONTHS[g[0]]
        end = _upcoming(today, month, 1, g[1] or None)
        return _month_end(end.year, month)
    if kind == "within":
        return _within(today, g[0], g[1])
    return date(today.year, 12, 31)


def find_deadline(text: str, now: datetime) -> tuple[datetime | None, str, str]:
    """Find a deadline phrase in `text`: (deadline, phrase found, text without it).

    An impossible date ("31 February") is reported as a phrase with no deadline.
    """
    lowered = text.lower()
    for kind, pattern in PATTERNS:
        match = re.search(pattern, lowered)
        if match is None:
            continue
        rest = (lowered[: match.start()] + " " + lowered[match.end() :]).strip()
        try:
            day = _resolve(kind, match.groups(), now.date())
        except ValueError:
            return None, match.group(0).strip(), rest
        return end_of_day(day), match.group(0).strip(), rest
    return None, "", lowered
