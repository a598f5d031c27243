"""Passwords (Argon2id), browser sessions, API tokens, roles and the audit log.

* Passwords are hashed with Argon2id (argon2-cffi defaults) and must pass
  :func:`password_problem` (zxcvbn strength and its common-password list).
  Logins are throttled and verified off the event loop (:mod:`.throttle`).
* A browser session is a random token in an ``HttpOnly``, ``SameSite=Strict``
  (and by default ``Secure``) cookie; only its SHA-256 is stored. Requests
  that change something with a session cookie must repeat the session's CSRF
  token in ``X-CSRF-Token``.
* Scripts use API tokens (``Authorization: Bearer dbr_…``); only their
  SHA-256 is stored and the token is shown once, at creation.
* Roles are listed once, in :mod:`.roles`: site roles see and change only
  their own site (other sites' objects answer 404, and the attempt is audited
  in the other site's log); the instance administrator manages sites and
  users and sees no patient data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .db import ApiToken, AuditEvent, User, UserSession, queue_audit, utcnow
from .roles import ANY_SITE_ROLE, CAN_ANALYSE, CAN_ANNOTATE, CAN_SEE_IDENTITY, CAN_SIGN, CAN_UPLOAD  # noqa: F401 - re-exported

COOKIE = "dbrain_session"
TOKEN_PREFIX = "dbr_"
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("dbrain-dummy-password")
#: How stale an API token's ``last_used_at`` may get before a request refreshes it.
TOKEN_TOUCH = dt.timedelta(seconds=60)

#: Every site role (the routers' "anyone signed in at a site").
ANY_ROLE = ANY_SITE_ROLE
#: The lowest zxcvbn score (0-4) a new password must reach.
MIN_PASSWORD_SCORE = 3
#: zxcvbn's cost grows with the length; longer passwords are judged by their first 100 characters.
_ZXCVBN_CHARS = 100


def password_problem(password: str, user_inputs=()) -> str | None:
    """Say why ``password`` may not be used, or return None when it may.

    A password needs at least 10 characters, a zxcvbn strength score of at
    least :data:`MIN_PASSWORD_SCORE` (of 4), and must not be essentially a
    common password: zxcvbn's frequency list of leaked passwords, also
    reversed, in l33t or with a few characters added (``password12``).

    Parameters
    ----------
    password : str
        The proposed password.
    user_inputs : iterable of str
        Words a guesser would try first (user name, site name).

    Returns
    -------
    problem : str | None
        One line for the user, or None.
    """
    if len(password) < 10:
        return "the password must have at least 10 characters"
    from zxcvbn import zxcvbn

    judged = password[:_ZXCVBN_CHARS]
    words = {w for u in user_inputs if u for w in [str(u)[:100], *re.split(r"[^A-Za-z0-9]+", str(u)[:100])] if len(w) > 2}
    result = zxcvbn(judged, user_inputs=sorted(words))
    for match in result["sequence"]:
        if match.get("dictionary_name") == "passwords" and 2 * len(match["token"]) >= len(judged):
            return "the password is a common (leaked) password or a small change of one; choose another"
    if result["score"] < MIN_PASSWORD_SCORE:
        hint = (result["feedback"].get("warning") or "").rstrip(".")
        reason = f" ({hint.lower()})" if hint else ""
        return f"the password is too easy to guess{reason}: use a longer phrase of unrelated words"
    return None


def revoke_credentials(db: Session, user_id: int) -> None:
    """End all browser sessions and revoke all API tokens of a user (password change, reset, leaver).

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    user_id : int
    """
    db.execute(delete(UserSession).where(UserSession.user_id == user_id))
    db.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked.is_(False)).values(revoked=True))


def hash_password(password: str) -> str:
    """Return the Argon2id hash of ``password``.

    Parameters
    ----------
    password : str

    Returns
    -------
    hash : str
    """
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check ``password`` against an Argon2 hash (constant work when ``stored`` is None).

    Parameters
    ----------
    stored : str | None
        The stored hash, or None for an unknown user.
    password : str

    Returns
    -------
    ok : bool
    """
    try:
        _hasher.verify(stored or _DUMMY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return stored is not None


def token_hash(token: str) -> str:
    """Return the SHA-256 hex digest under which a session or API token is stored.

    Parameters
    ----------
    token : str

    Returns
    -------
    digest : str
    """
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str = "") -> str:
    """Return a new random token (256 bits).

    Parameters
    ----------
    prefix : str

    Returns
    -------
    token : str
    """
    return prefix + secrets.token_urlsafe(32)


@dataclass
class Principal:
    """The authenticated user of a request and how it authenticated."""

    user: User
    via: str  # "session" or "token"
    csrf_token: str | None = None

    @property
    def site_id(self) -> int | None:
        return self.user.site_id

    @property
    def role(self) -> str:
        return self.user.role


async def get_db(request: Request):
    """Yield a database session for one request.

    An ``async`` dependency: making the session does no I/O, so it costs no
    trip to the thread pool; closing it does I/O only while a transaction is
    open (a rollback), and that runs in the thread pool.

    Parameters
    ----------
    request : fastapi.Request
    """
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _long_lived(request: Request) -> bool:
    """Whether the route is ``async`` (an upload streaming its body, an event stream): it must not hold the
    authentication's transaction (and its pooled connection) while it runs; it does its own database work
    in other sessions or in the thread pool."""
    return inspect.iscoroutinefunction(request.scope.get("endpoint"))


def current_principal(request: Request, db: Session = Depends(get_db)) -> Principal:
    """Authenticate a request by API token or session cookie, or answer 401.

    Parameters
    ----------
    request : fastapi.Request
    db : sqlalchemy.orm.Session

    Returns
    -------
    principal : Principal
    """
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        # One query for the token and its user, read on every request (never cached), so a revoked token, a
        # deactivated user or a changed role or site takes effect at the next request in every web process.
        found = db.execute(
            select(ApiToken.id, ApiToken.last_used_at, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked.is_(False))
        ).first()
        if found is None or not found.User.active:
            raise HTTPException(401, "invalid or revoked API token")
        if found.last_used_at is None or utcnow() - _aware(found.last_used_at) > TOKEN_TOUCH:
            # At most once a minute: not a write on every request.
            db.execute(update(ApiToken).where(ApiToken.id == found.id).values(last_used_at=utcnow()))
            db.commit()
        elif _long_lived(request):
            db.commit()
        # A synchronous route goes on in this read transaction (its first write, e.g. the audit row, starts the
        # write transaction): one BEGIN … COMMIT per request instead of two.
        return Principal(found.User, "token")
    cookie = request.cookies.get(COOKIE)
    if cookie:
        row = db.get(UserSession, token_hash(cookie))
        if row is not None and _aware(row.expires_at) > utcnow():
            user = db.get(User, row.user_id)
            if user is not None and user.active:
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    sent = request.headers.get("x-csrf-token", "")
                    if not secrets.compare_digest(sent, row.csrf_token):
                        raise HTTPException(403, "missing or wrong X-CSRF-Token header for a cookie-authenticated request")
                csrf = row.csrf_token
                if _long_lived(request):
                    db.commit()
                return Principal(user, "session", csrf)
    raise HTTPException(401, "not authenticated: log in (POST /api/auth/login) or send 'Authorization: Bearer <API token>'")


def require(*roles: str):
    """Return a dependency that admits only users with one of ``roles``.

    Parameters
    ----------
    *roles : str
        Allowed roles.

    Returns
    -------
    dependency : callable
    """

    def deny(request: Request, who: Principal, db: Session) -> None:
        audit(db, who, "access-denied", request=request, outcome="denied", detail={"path": request.url.path, "role": who.role})
        db.commit()

    # async: the role check needs no I/O, so an admitted request costs no trip to the thread pool here.
    async def dependency(
        request: Request, who: Principal = Depends(current_principal), db: Session = Depends(get_db)
    ) -> Principal:
        if who.role not in roles:
            await run_in_threadpool(deny, request, who, db)
            raise HTTPException(403, f"role '{who.role}' may not do this (allowed: {', '.join(roles)})")
        return who

    return dependency


def audit(
    db: Session,
    who: Principal | None,
    action: str,
    *,
    object_type: str | None = None,
    object_id: int | None = None,
    patient_id: int | None = None,
    site_id: int | None = None,
    user_id: int | None = None,
    request: Request | None = None,
    outcome: str = "ok",
    detail: dict | None = None,
) -> None:
    """Add one row to the audit log (committed with the caller's transaction).

    The row is written by the commit of ``db``'s transaction, in that
    transaction (a rolled-back transaction keeps none of its audit rows), as
    one plain ``INSERT`` (:func:`dbrain.server.db.make_sessionmaker`'s
    sessions; without the ORM's unit of work, which cost a third of a read's
    CPU); a session from elsewhere gets it through the ORM, as before.

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    who : Principal | None
        The acting user; None for anonymous attempts (e.g. a failed login).
    action : str
        What happened, e.g. ``'recording.window'``.
    object_type, object_id : str | None, int | None
        The object acted on.
    patient_id : int | None
        The patient whose data was touched.
    site_id : int | None
        Default: the user's site.
    user_id : int | None
        Default: the acting user's id (a failed login names the account it tried, without a principal).
    request : fastapi.Request | None
        For the client address.
    outcome : str
        ``'ok'``, ``'denied'`` or ``'failed'``.
    detail : dict | None
        Anything else worth keeping (never PHI).
    """
    values = dict(
        user_id=user_id if user_id is not None else (who.user.id if who else None),
        username=who.user.username if who else None,
        site_id=site_id if site_id is not None else (who.site_id if who else None),
        action=action,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        outcome=outcome,
        ip=request.client.host if request is not None and request.client else None,
        detail=detail or {},
    )
    if not queue_audit(db, values):
        db.add(AuditEvent(**values))
