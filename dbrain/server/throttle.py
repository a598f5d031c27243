"""Login defence: throttling, lock-out with exponential back-off, and Argon2 off the event loop.

Every login attempt passes :meth:`LoginGuard.check` first, which costs no
database access and no password hash:

* **per client address**: at most ``Settings.login_client_rate`` attempts
  (a moving window of the ``limits`` library), whatever their outcome;
* **per account and per client address**: after ``login_free_failures``
  failures in a row the account (or client) is locked for
  ``login_lock_seconds``, doubled with every further failure up to
  ``login_lock_max_seconds``. During a lock-out even the right password is
  refused. Unknown user names are counted like real ones, so the answers do
  not tell which accounts exist.

Refused attempts answer 429 with ``Retry-After``. Counters live in a
``limits`` storage (``Settings.login_storage``): ``memory://`` keeps them per
web process, ``redis://…`` shares them between the processes of a
deployment.

Password verification runs in a small dedicated thread pool
(``argon2_workers`` threads, ``argon2_queue`` waiting logins; more answer
429), so a flood of logins occupies at most that many cores and never the
event loop or the request thread pool that serves reads. A login for an
unknown user name does not hash at all: it waits as long as a verification
typically takes (a running mean of the real ones), so its timing does not
reveal that the account is missing, at no CPU cost.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from .auth import hash_password, verify_password
from .settings import Settings


class TooManyAttempts(Exception):
    """An attempt refused by the throttle; ``retry_after`` is in whole seconds."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


def _key(kind: str, value: str) -> str:
    # Hashed: user names tried by an attacker (sometimes passwords typed in the wrong field) never sit in the store.
    return f"dbrain-login/{kind}/" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]


class LoginGuard:
    """Throttle, lock-out and password verification of one web process.

    Parameters
    ----------
    settings : Settings
        ``login_*`` and ``argon2_*`` fields.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.storage = storage_from_string(settings.login_storage)
        self.client_rate = parse(settings.login_client_rate)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.pool = ThreadPoolExecutor(max_workers=max(1, settings.argon2_workers), thread_name_prefix="dbrain-argon2")
        self._waiting = 0
        self._lock = threading.Lock()
        #: Running mean of the wall time of one verification (seconds); None until the first.
        self.verify_seconds: float | None = None

    def close(self) -> None:
        """Stop the verification threads."""
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ throttle

    def _locked_for(self, key: str) -> float:
        if self.storage.get(key + "/lock") <= 0:
            return 0.0
        return max(0.0, self.storage.get_expiry(key + "/lock") - time.time())

    def check(self, username: str, client: str) -> None:
        """Admit one login attempt or raise :class:`TooManyAttempts`.

        Parameters
        ----------
        username : str
            The account tried (known or not).
        client : str
            The client's address.

        Raises
        ------
        TooManyAttempts
        """
        if not self.limiter.hit(self.client_rate, "dbrain-login-client", client):
            reset = self.limiter.get_window_stats(self.client_rate, "dbrain-login-client", client).reset_time
            raise TooManyAttempts(f"too many login attempts from this address (at most {self.client_rate})", reset - time.time())
        for kind, value in (("account", username), ("client", client)):
            wait = self._locked_for(_key(kind, value))
            if wait > 0:
                raise TooManyAttempts(f"too many failed logins: this {kind} is locked for a while", wait)

    def failed(self, username: str, client: str) -> float:
        """Count a failed login; return the lock-out it starts (seconds, 0 if none).

        Parameters
        ----------
        username, client : str

        Returns
        -------
        lock : float
            The longer of the account's and the client's new lock-out.
        """
        s = self.settings
        longest = 0.0
        for kind, value in (("account", username), ("client", client)):
            key = _key(kind, value)
            # Whole seconds: redis EXPIRE refuses "3600.0" (the memory storage took floats, so this went unseen).
            n = self.storage.incr(key + "/fails", math.ceil(s.login_failure_window))
            # A shared address (a hospital's NAT) fails more often than one account: four times the allowance.
            free = s.login_free_failures * (4 if kind == "client" else 1)
            if n >= free:
                lock = min(s.login_lock_max_seconds, s.login_lock_seconds * 2.0 ** min(n - free, 40))
                self.storage.clear(key + "/lock")
                self.storage.incr(key + "/lock", math.ceil(lock))
                longest = max(longest, lock)
        return longest

    def succeeded(self, username: str) -> None:
        """Forget the account's failures after a successful login (the client's are kept: they expire).

        Parameters
        ----------
        username : str
        """
        self.storage.clear(_key("account", username) + "/fails")

    # ------------------------------------------------------------------ verification

    def _timed_verify(self, stored: str | None, password: str) -> bool:
        t0 = time.perf_counter()
        ok = verify_password(stored, password)
        took = time.perf_counter() - t0
        with self._lock:
            self.verify_seconds = took if self.verify_seconds is None else 0.8 * self.verify_seconds + 0.2 * took
        return ok

    async def verify(self, stored: str | None, password: str) -> bool:
        """Check a password against its Argon2 hash in the verification pool.

        Parameters
        ----------
        stored : str | None
            The account's hash; None for an unknown user name (no hash is
            computed once the typical verification time is known: the answer
            waits that long instead).
        password : str

        Returns
        -------
        ok : bool

        Raises
        ------
        TooManyAttempts
            When ``argon2_queue`` logins already wait for the pool.
        """
        if stored is None and self.verify_seconds is not None:
            await asyncio.sleep(self.verify_seconds)
            return False
        if self._waiting >= self.settings.argon2_queue:
            raise TooManyAttempts("too many logins in progress; try again shortly", 1)
        self._waiting += 1  # only touched on the event loop's thread
        try:
            return await asyncio.wrap_future(self.pool.submit(self._timed_verify, stored, password))
        finally:
            self._waiting -= 1

    def hash(self, password: str) -> str:
        """Hash a new password in the verification pool (blocking the calling thread, never the event loop).

        Parameters
        ----------
        password : str

        Returns
        -------
        hash : str
        """
        return self.pool.submit(hash_password, password).result()
