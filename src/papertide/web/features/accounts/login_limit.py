"""Failed-login limits: per account and per address, failures only.

A lab behind one NAT shares an address: counting every login there locked everyone out
after 20 an hour, the right password included. Only failures count here (OWASP
Authentication Cheat Sheet, "Account lockout" and "Login throttling"), in a sliding window
of ``login_failure_window_minutes``:

- an account takes ``login_failures_per_account`` failures from anywhere (password
  guessing against one person), then waits;
- an address takes ``login_failures_per_address`` failures across accounts (password
  spraying), then waits;
- a success clears the account's failures and this address's failures on that account, so
  a typo or two never add up over a day, while a sprayer's own successful logins do not
  wash its failures on other accounts away.

The answer is 429 with ``Retry-After`` (seconds until the oldest counted failure leaves the
window) and a page that says when to try again. Events live in the store's rate_events
table, so every web process and node shares them. Two guesses racing past the check at the
same moment may both be verified: the limit is a throttle, the argon2 hash the real cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.normalize import username_key
from papertide.store import Store

_ACCOUNT = "login-fail-user:"
_ADDRESS = "login-fail-addr:"
_SEP = "|"  # address events are "login-fail-addr:ADDRESS|ACCOUNT"; "}" sorts right after it


@dataclass(frozen=True, slots=True)
class Locked:
    """Why a login is refused for now, and for how long."""

    reason: str  # "account" | "address"
    retry_after: int  # seconds
    until: datetime

    @property
    def message(self) -> str:
        """What the login page says."""
        minutes = max(1, math.ceil(self.retry_after / 60))
        what = "for this account" if self.reason == "account" else "from your address"
        return (
            f"Too many failed attempts {what}; try again in {minutes} minute"
            f"{'' if minutes == 1 else 's'} (at {self.until:%H:%M} UTC)."
        )


def _keys(username: str, address: str) -> tuple[str, str]:
    account = username_key(username)[:120]
    return _ACCOUNT + account, f"{_ADDRESS}{address}{_SEP}{account}"


def _window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.login_failure_window_minutes)


def locked(store: Store, settings: Settings, *, username: str, address: str) -> Locked | None:
    """Whether this account or this address has used up its failures for now."""
    now, window = utcnow(), _window(settings)
    account_key, _ = _keys(username, address)
    checks = (
        ("account", account_key, account_key + "\x01", settings.login_failures_per_account),
        (
            "address",
            f"{_ADDRESS}{address}{_SEP}",
            f"{_ADDRESS}{address}}}",
            settings.login_failures_per_address,
        ),
    )
    for reason, low, high, limit in checks:
        count, oldest = store.count_events(low=low, high=high, since=now - window)
        if count >= limit and oldest is not None:
            until = oldest + window
            return Locked(reason, max(1, math.ceil((until - now).total_seconds())), until)
    return None


def record_failure(store: Store, settings: Settings, *, username: str, address: str) -> None:
    """Count a failed login against the account and the address."""
    now = utcnow()
    store.add_events(list(_keys(username, address)), now=now, forget_before=now - _window(settings))


def record_success(store: Store, *, username: str, address: str) -> None:
    """A success: the account's failures, and this address's on it, are forgotten."""
    store.clear_events(list(_keys(username, address)))
