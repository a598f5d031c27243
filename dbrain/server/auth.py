"""Passwords (Argon2id), browser sessions, API tokens, roles and the audit log.

* Passwords are hashed with Argon2id (argon2-cffi defaults); a login with an
  unknown user name costs the same as one with a wrong password.
* A browser session is a random token in an ``HttpOnly``, ``SameSite=Strict``
  (and by default ``Secure``) cookie; only its SHA-256 is stored. Requests
  that change something with a session cookie must repeat the session's CSRF
  token in ``X-CSRF-Token``.
* Scripts use API tokens (``Authorization: Bearer dbr_…``); only their
  SHA-256 is stored and the token is shown once, at creation.
* Roles: ``admin`` (sites, users, audit log), ``clinician`` (sees the patient
  identity of its own site, signs reports), ``technologist`` (uploads,
  annotates), ``researcher`` (reads de-identified data of its site only).
  Everything a user reads or changes is limited to its own site; other
  sites' objects answer 404.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import ApiToken, AuditEvent, User, UserSession, utcnow

COOKIE = "dbrain_session"
TOKEN_PREFIX = "dbr_"
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("dbrain-dummy-password")
#: How stale an API token's ``last_used_at`` may get before a request refreshes it.
TOKEN_TOUCH = dt.timedelta(seconds=60)

#: Roles allowed to do each kind of thing.
CAN_UPLOAD = ("admin", "clinician", "technologist")
CAN_ANALYSE = ("admin", "clinician", "technologist")
CAN_ANNOTATE = ("clinician", "technologist")
CAN_SEE_IDENTITY = ("clinician",)
CAN_SIGN = ("clinician",)
ANY_ROLE = ("admin", "clinician", "technologist", "researcher")


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
    def site_id(self) -> int:
        return self.user.site_id

    @property
    def role(self) -> str:
        return self.user.role


def get_db(request: Request):
    """Yield a database session for one request.

    Parameters
    ----------
    request : fastapi.Request
    """
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


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
        row = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token), ApiToken.revoked.is_(False)))
        user = db.get(User, row.user_id) if row is not None else None
        if user is None or not user.active:
            raise HTTPException(401, "invalid or revoked API token")
        if row.last_used_at is None or utcnow() - _aware(row.last_used_at) > TOKEN_TOUCH:
            row.last_used_at = utcnow()  # at most once a minute: not a write on every request
        db.commit()
        return Principal(user, "token")
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
                # End this transaction (on SQLite it holds the write lock) as the token path does:
                # an upload streams its body and then writes in another session, which would wait for it.
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

    def dependency(request: Request, who: Principal = Depends(current_principal), db: Session = Depends(get_db)) -> Principal:
        if who.role not in roles:
            audit(
                db, who, "access-denied", request=request, outcome="denied", detail={"path": request.url.path, "role": who.role}
            )
            db.commit()
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
    request: Request | None = None,
    outcome: str = "ok",
    detail: dict | None = None,
) -> AuditEvent:
    """Add one row to the audit log (committed with the caller's transaction).

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
    request : fastapi.Request | None
        For the client address.
    outcome : str
        ``'ok'``, ``'denied'`` or ``'failed'``.
    detail : dict | None
        Anything else worth keeping (never PHI).

    Returns
    -------
    event : AuditEvent
    """
    event = AuditEvent(
        user_id=who.user.id if who else None,
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
    db.add(event)
    return event
