"""A deterministic simulated subscription business behind the demo's SQLite CRM.

Each day some customers go quiet, some quiet ones churn, and new ones sign up. What
Baton does changes the odds: a win-back email reactivates many quiet customers, a
discount makes them much less likely to leave, and account managers save a few.
`Odds` states the same rules as numbers: the ground truth the benchmark
(`bench/learning.py`) holds Baton's measured effects against.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS sim (day INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS customers (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, plan TEXT NOT NULL,
  mrr REAL NOT NULL, account_manager TEXT NOT NULL, last_active_day INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'active', churned_day INTEGER);
CREATE TABLE IF NOT EXISTS tickets (
  id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, opened_day INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'open');
CREATE TABLE IF NOT EXISTS outbox (
  idempotency_key TEXT NOT NULL, customer_id INTEGER NOT NULL, email TEXT NOT NULL,
  body TEXT NOT NULL, day INTEGER NOT NULL, PRIMARY KEY (idempotency_key, customer_id));
CREATE TABLE IF NOT EXISTS discounts (
  idempotency_key TEXT NOT NULL, customer_id INTEGER NOT NULL, percent INTEGER NOT NULL,
  day INTEGER NOT NULL, PRIMARY KEY (idempotency_key, customer_id));
CREATE TABLE IF NOT EXISTS contracts (
  id INTEGER PRIMARY KEY, customer TEXT NOT NULL, email TEXT NOT NULL, plan TEXT NOT NULL,
  non_standard_terms INTEGER NOT NULL DEFAULT 0, terms TEXT NOT NULL DEFAULT '',
  signed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
  idempotency_key TEXT PRIMARY KEY, contract_id INTEGER NOT NULL, customer TEXT NOT NULL,
  plan TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS welcome_emails (
  idempotency_key TEXT PRIMARY KEY, contract_id INTEGER NOT NULL, email TEXT NOT NULL,
  body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kickoffs (
  idempotency_key TEXT PRIMARY KEY, contract_id INTEGER NOT NULL, slot TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contract_terms (
  idempotency_key TEXT PRIMARY KEY, contract_id INTEGER NOT NULL, terms TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ticket_responses (
  idempotency_key TEXT PRIMARY KEY, ticket TEXT NOT NULL, body TEXT NOT NULL);
"""

PLANS = (("starter", 19.0), ("team", 49.0), ("business", 129.0))
MANAGERS = ("@amir", "@bea", "@carl")
FIRST = ("Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea")
LAST = ("Stone", "Reed", "Hale", "Moss", "Park", "Quinn", "Vale", "West", "Young", "Zhou")

GO_QUIET = 0.012  # an active, engaged customer goes quiet
CHURN_ENGAGED = 0.0008
CHURN_QUIET = 0.0095
REACTIVATE_AFTER_EMAIL = 0.65  # chance a quiet customer comes back after the win-back email
DISCOUNT_FACTOR = 0.25  # a discounted customer's churn odds are multiplied by this
SIGNUPS_PER_DAY = 2
HISTORY_DAYS = 90
DISCOUNT_DAYS = 90


@dataclass(frozen=True)
class Odds:
    """This business's rules as numbers: the ground truth the benchmark holds Baton's
    measured effects against (other worlds change them)."""

    quiet_churn: float = CHURN_QUIET
    reactivate: float = REACTIVATE_AFTER_EMAIL
    discount_factor: float = DISCOUNT_FACTOR
    trend: float = 0.0
    """Every churn chance is scaled by (1 + trend * day): a drift no step causes."""

    def churn_probability(self, action: str, days: int, *, start_day: int = 0) -> float:
        """The chance a quiet customer churns within `days` after `action` (`send_winback`,
        `offer_discount`, or anything else for none). Engaged customers practically never
        go quiet again (that takes 14 days in a row without activity), so a reactivated
        customer churns at the engaged rate."""
        back = self.reactivate if action == "send_winback" else 0.0
        factor = self.discount_factor if action == "offer_discount" else 1.0
        stay_quiet = stay_engaged = 1.0
        for day in range(start_day + 1, start_day + days + 1):
            drift = max(1.0 + self.trend * day, 0.0)
            discount = factor if day - start_day <= DISCOUNT_DAYS else 1.0
            stay_quiet *= 1 - min(self.quiet_churn * drift * discount, 1.0)
            stay_engaged *= 1 - min(CHURN_ENGAGED * drift * discount, 1.0)
        return 1 - (back * stay_engaged + (1 - back) * stay_quiet)

    def true_effect(self, action: str, days: int, *, start_day: int = 0) -> float:
        """The true per-customer effect of `action` on churning within `days` (a difference
        of probabilities; negative: fewer churn)."""
        treated = self.churn_probability(action, days, start_day=start_day)
        return treated - self.churn_probability("none", days, start_day=start_day)


class Business:
    """The simulated business; `advance_day` is the only way time passes for it."""

    def __init__(self, path: Path, seed: int = 7, trend: float = 0.0) -> None:
        self.path = path
        self.rng = random.Random(seed)
        self.trend = trend
        """Every churn chance is scaled by (1 + trend * day): a drift no step causes."""

    def create(self, customers: int = 500) -> None:
        """A fresh CRM with `HISTORY_DAYS` of history, so churn has a real baseline."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)
            db.execute("INSERT INTO sim (day) VALUES (?)", (-HISTORY_DAYS,))
            for _ in range(customers):
                self._sign_up(db, -HISTORY_DAYS - self.rng.randint(0, 30))
        for _ in range(HISTORY_DAYS):
            self.advance_day()

    def advance_day(self) -> int:
        with self._db() as db:
            day = db.execute("SELECT day FROM sim").fetchone()[0] + 1
            db.execute("UPDATE sim SET day = ?", (day,))
            for row in db.execute(
                "SELECT id, last_active_day FROM customers WHERE status = 'active' ORDER BY id"
            ).fetchall():
                self._live(db, day, row[0], quiet=row[1] < day - 14)
            for _ in range(SIGNUPS_PER_DAY):
                self._sign_up(db, day)
            if self.rng.random() < 0.5:
                db.execute(
                    "UPDATE tickets SET status = 'closed' WHERE id = (SELECT MIN(id) "
                    "FROM tickets WHERE status = 'open')"
                )
            return int(day)

    def _live(self, db: sqlite3.Connection, day: int, customer: int, *, quiet: bool) -> None:
        emailed = db.execute(
            "SELECT MAX(day) FROM outbox WHERE customer_id = ?", (customer,)
        ).fetchone()[0]
        discounted = (
            db.execute(
                "SELECT 1 FROM discounts WHERE customer_id = ? AND day > ?", (customer, day - 90)
            ).fetchone()
            is not None
        )
        if quiet and emailed == day - 1 and self.rng.random() < REACTIVATE_AFTER_EMAIL:
            db.execute("UPDATE customers SET last_active_day = ? WHERE id = ?", (day, customer))
            quiet = False
        odds = CHURN_QUIET if quiet else CHURN_ENGAGED
        if discounted:
            odds *= DISCOUNT_FACTOR
        odds *= max(1.0 + self.trend * day, 0.0)
        if self.rng.random() < odds:
            db.execute(
                "UPDATE customers SET status = 'churned', churned_day = ? WHERE id = ?",
                (day, customer),
            )
        elif not quiet and self.rng.random() < 1 - GO_QUIET:
            db.execute("UPDATE customers SET last_active_day = ? WHERE id = ?", (day, customer))
        if self.rng.random() < 0.01:
            db.execute(
                "INSERT INTO tickets (customer_id, opened_day) VALUES (?, ?)", (customer, day)
            )

    def _sign_up(self, db: sqlite3.Connection, day: int) -> None:
        plan, mrr = self.rng.choice(PLANS)
        name = f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"
        email = name.lower().replace(" ", ".") + f"{self.rng.randint(1, 999)}@example.com"
        db.execute(
            "INSERT INTO customers (name, email, plan, mrr, account_manager, "
            "last_active_day) VALUES (?, ?, ?, ?, ?, ?)",
            (name, email, plan, mrr, self.rng.choice(MANAGERS), day),
        )

    def sign_contract(self, customer: str, plan: str, signed_at: str, *, terms: str = "") -> int:
        """A customer signs (deterministic: no randomness); `terms` makes it non-standard."""
        email = customer.lower().replace(" ", ".") + "@example.com"
        with self._db() as db:
            db.executescript(SCHEMA)  # a CRM created before contracts existed gains the table
            cursor = db.execute(
                "INSERT INTO contracts (customer, email, plan, non_standard_terms, terms, "
                "signed_at) VALUES (?, ?, ?, ?, ?, ?)",
                (customer, email, plan, int(bool(terms)), terms, signed_at),
            )
            return int(cursor.lastrowid or 0)

    def count(self, table: str, contract_id: int) -> int:
        """Rows an onboarding step wrote for one contract (each must be exactly one)."""
        with self._db() as db:
            query = f"SELECT COUNT(*) FROM {table} WHERE contract_id = ?"
            return int(db.execute(query, (contract_id,)).fetchone()[0])

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path)) as db, db:
            yield db
