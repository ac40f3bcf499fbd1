"""Slowing down password guessing: after a burst of failed logins for one email, further attempts
for it are refused for the rest of the window (429), whatever the password."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque

from auth.store import TooManyRequestsError

log = logging.getLogger("customer_flows.auth")


def email_ref(email: str) -> str:
    """A short, stable reference to an email for logs (never the address itself)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:12]


class LoginThrottle:
    """Failed logins per email within a sliding window, kept in this process.

    Each API replica counts on its own, so N replicas allow N bursts; that still turns guessing
    into a trickle, and needs no shared store."""

    def __init__(self, max_failures: int, window_seconds: float) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        horizon = time.monotonic() - self.window
        while failures and failures[0] < horizon:
            failures.popleft()
        return failures

    def check(self, email: str) -> None:
        """Raise `TooManyRequestsError` while `email` is over its burst."""
        key = email_ref(email)
        if len(self._recent(key)) >= self.max_failures:
            log.warning("login refused: too many failures for email ref %s", key)
            raise TooManyRequestsError("Too many failed login attempts, try again later")

    def failed(self, email: str) -> None:
        key = email_ref(email)
        recent = self._recent(key)
        recent.append(time.monotonic())
        log.warning("failed login for email ref %s (%d in window)", key, len(recent))
        if len(self._failures) > 100_000:  # bound memory under a spray of distinct emails
            self._failures = {k: v for k, v in self._failures.items() if self._recent(k)}

    def succeeded(self, email: str) -> None:
        self._failures.pop(email_ref(email), None)
