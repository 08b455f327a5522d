"""The login endpoint's guard against floods: argon2 is slow on purpose, so it is rationed.

- At most ``QMAS_LOGIN_PARALLEL_CHECKS`` password checks run at once (argon2id takes ~50 ms
  of a core): a flood of logins queues here instead of starving every other request; a
  login that cannot start within a few seconds is answered 429 with ``Retry-After``.
- At most ``QMAS_LOGIN_CLIENT_FAILURES_PER_MINUTE`` failed logins a minute from one client
  address, whatever the usernames (the per-account lock in `workflows.logins` cannot see
  an attacker who tries a new name each time).

Counts live in the server process (one per worker): a restart forgets them, which costs an
attacker a minute at most.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from states.errors import TooManyAttempts

WINDOW = 60.0  # seconds


class LoginGate:
    def __init__(self, parallel: int, failures_per_minute: int, wait: float = 5.0) -> None:
        self.parallel = parallel
        self.limit = failures_per_minute
        self.wait = wait
        self._slots: asyncio.Semaphore | None = None
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and now - times[0] >= WINDOW:
            times.popleft()
        return times

    def check(self, client: str) -> None:
        """429 when ``client`` failed too often in the last minute."""
        now = time.monotonic()
        times = self._recent(client, now)
        if len(times) >= self.limit:
            wait = max(1, int(WINDOW - (now - times[0])) + 1)
            raise TooManyAttempts(
                f"too many failed logins from this address; try again in {wait} seconds",
                retry_after=wait,
            )

    def failed(self, client: str) -> None:
        self._recent(client, time.monotonic()).append(time.monotonic())
        if len(self._failures) > 10_000:  # forget the quietest addresses first
            for key in [k for k, v in self._failures.items() if not v][:5_000]:
                del self._failures[key]

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the password-check slots, or 429 when none frees up in time."""
        if self._slots is None:  # made in the running loop
            self._slots = asyncio.Semaphore(self.parallel)
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.wait)
        except TimeoutError:
            raise TooManyAttempts(
                "too many logins at once; try again in a second", retry_after=1
            ) from None
        try:
            yield
        finally:
            self._slots.release()
