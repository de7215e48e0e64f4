"""Password hashing (argon2id), the login throttle and the global budget for hashing work.

The throttle counts failures per client address and per (user, address), never per user
alone: an outsider who guesses wrong from their own address throttles only that address, and
the physician signing in from elsewhere is unaffected. The budget caps how many password
checks run per second across all clients, so a flood from many addresses cannot use up the CPU.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, library defaults (memory-hard; ~0.1 s on 2 cores)

MIN_PASSWORD_LENGTH = 8


@functools.cache
def _unknown_user_hash() -> str:
    """Verified when the user name is unknown, so that an unknown name costs as long as a known
    one and the answer time does not tell which names exist. Made on first use: hashing costs
    ~0.2 s, which every command would pay at start-up."""
    return _hasher.hash("no such user: constant-time filler")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def burn_unknown_user_check(password: str) -> None:
    verify_password(_unknown_user_hash(), password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


class LoginThrottle:
    """Refuse logins from an address after `max_address_failures` failures from it within
    `window_s`, and for a (user, address) after `max_failures` failures of that pair.

    An attempt counts as a failure from the moment it starts (`attempt`) until it succeeds (or
    is withdrawn unchecked), so ten guesses sent at once get no further than one by one. A success clears its
    own (user, address) count and only its own attempt from the address: signing in to one's
    own account must not reset an address that has been guessing at others. `delay_s` is how
    long the login route waits (asynchronously) before answering a failure.
    """

    MAX_TRACKED = 100_000  # keys kept before old ones are pruned (bounded memory under a flood)
    engine = None  # set by bind(): the counts then live in the database, shared by every app process

    def __init__(self, max_failures: int = 5, window_s: float = 300.0, delay_s: float = 0.5,
                 max_address_failures: int | None = None) -> None:
        self.max_failures = max_failures
        self.max_address_failures = max_address_failures or 4 * max_failures
        self.window_s = window_s
        self.delay_s = delay_s
        self._failures: dict[tuple, list[float]] = {}
        self._lock = threading.Lock()

    def bind(self, engine) -> LoginThrottle:
        """Keep the counts in the database (app/storage/sessions.py): a restart keeps them and
        several app processes on one database share them. Call the methods in a thread then."""
        self.engine = engine
        return self

    def _db_limits(self, name: str, address: str) -> dict[str, int]:
        return {f"address:{address}": self.max_address_failures, f"pair:{name}:{address}": self.max_failures}

    def _recent(self, key: tuple, now: float) -> list[float]:
        recent = [t for t in self._failures.get(key, []) if now - t < self.window_s]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    def _refused(self, name: str, address: str, now: float) -> bool:
        return (len(self._recent(("address", address), now)) >= self.max_address_failures
                or len(self._recent(("pair", name, address), now)) >= self.max_failures)

    def refused(self, name: str, address: str) -> bool:
        if self.engine is not None:
            from app.storage import sessions, transaction

            since = time.time() - self.window_s
            with transaction(self.engine) as session:
                return any(sessions.attempts_under(session, key, since=since) >= limit
                           for key, limit in self._db_limits(name, address).items())
        with self._lock:
            return self._refused(name, address, time.monotonic())

    def attempt(self, name: str, address: str) -> float | None:
        """None when refused; else the attempt is counted as a failure until `succeeded` is
        called with the returned stamp."""
        if self.engine is not None:
            import secrets

            from app.storage import sessions, transaction

            stamp = secrets.token_hex(8)
            with transaction(self.engine) as session:
                counted = sessions.count_and_add_attempt(session, self._db_limits(name, address), stamp,
                                                         now=time.time(), window_s=self.window_s)
            return stamp if counted else None
        now = time.monotonic()
        with self._lock:
            if self._refused(name, address, now):
                return None
            if len(self._failures) > self.MAX_TRACKED:
                for key in list(self._failures):
                    self._recent(key, now)
            for key in (("address", address), ("pair", name, address)):
                self._failures[key] = [*self._recent(key, now), now]
            return now

    def withdraw(self, name: str, address: str, stamp, *, clear_pair: bool = False) -> None:
        """Forget an attempt whose password was never checked (the server was too busy)."""
        if self.engine is not None:
            from app.storage import sessions, transaction

            with transaction(self.engine) as session:
                sessions.withdraw_attempt(session, stamp, clear_key=f"pair:{name}:{address}" if clear_pair else None)
            return
        with self._lock:
            for key in (("address", address), ("pair", name, address)):
                if stamp in self._failures.get(key, []):
                    self._failures[key].remove(stamp)

    def succeeded(self, name: str, address: str, stamp) -> None:
        self.withdraw(name, address, stamp, clear_pair=True)
        if self.engine is not None:
            return
        with self._lock:
            self._failures.pop(("pair", name, address), None)


class HashBudget:
    """At most `per_second` password checks per second over all clients (bursts of `burst`).

    Each caller reserves the next free moment; a caller whose moment is more than `max_wait_s`
    away is refused at once, so waiting requests stay few and a flood is answered quickly. The
    defaults: one check takes about 0.1 s of both cores here, so 4 a second is at most ~40% of
    the CPU, and 32 physicians signing in at the same moment all get in within 6 s.
    """

    def __init__(self, per_second: float = 4.0, burst: int = 8, max_wait_s: float = 6.0) -> None:
        self.per_second = per_second
        self.burst = burst
        self.max_wait_s = max_wait_s
        self._available = float(burst)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def reserve(self, max_wait_s: float | None = None) -> float | None:
        """Seconds to wait before checking a password, or None when over budget (a wait over
        `max_wait_s`, default the budget's own)."""
        limit = self.max_wait_s if max_wait_s is None else min(max_wait_s, self.max_wait_s)
        with self._lock:
            now = time.monotonic()
            self._available = min(self.burst, self._available + (now - self._updated) * self.per_second)
            self._updated = now
            wait = max(0.0, (1.0 - self._available) / self.per_second)
            if wait > limit:
                return None
            self._available -= 1.0
            return wait

    async def acquire(self, max_wait_s: float | None = None) -> bool:
        wait = self.reserve(max_wait_s)
        if wait is None:
            return False
        if wait:
            await asyncio.sleep(wait)
        return True
