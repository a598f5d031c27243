"""``/api/auth`` (password login, browser sessions) and ``/api/tokens`` (API tokens for scripts)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..auth import (
    COOKIE,
    TOKEN_PREFIX,
    Principal,
    audit,
    current_principal,
    get_db,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from ..db import ApiToken, User, UserSession, utcnow
from ..schemas import LoginIn, MeOut, TokenCreated, TokenIn, TokenOut, UserOut
from ._common import ERRORS, NOT_FOUND, IdPath

router = APIRouter(tags=["auth"])
_ = hash_password  # re-exported for the admin CLI


@router.post("/api/auth/login", response_model=MeOut, responses={401: {"description": "Wrong user name or password"}})
def login(body: LoginIn, request: Request, response: Response, db: Session = Depends(get_db)) -> MeOut:
    """Check the password (Argon2) and start a browser session (an HttpOnly cookie).

    The answer's ``csrf_token`` must be sent as ``X-CSRF-Token`` with every
    request that changes something while using the cookie.
    """
    user = db.scalar(select(User).where(User.username == body.username))
    ok = verify_password(user.password_hash if user is not None else None, body.password)
    if not ok or not user.active:
        audit(db, None, "auth.login", request=request, outcome="denied", detail={"username": body.username[:150]})
        db.commit()
        raise HTTPException(401, "wrong user name or password")
    token = new_token()
    settings = request.app.state.settings
    now = utcnow()
    session = UserSession(
        token_hash=token_hash(token), user_id=user.id, csrf_token=new_token(), created_at=now, expires_at=now + dt.timedelta(hours=settings.session_hours)
    )
    db.execute(delete(UserSession).where(UserSession.expires_at < now))
    db.add(session)
    who = Principal(user, "session", session.csrf_token)
    audit(db, who, "auth.login", request=request)
    db.commit()
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )
    return MeOut(user=UserOut.model_validate(user), csrf_token=session.csrf_token)


@router.post("/api/auth/logout", status_code=204, responses=ERRORS)
def logout(request: Request, response: Response, who: Principal = Depends(current_principal), db: Session = Depends(get_db)) -> Response:
    """End the browser session."""
    cookie = request.cookies.get(COOKIE)
    if cookie:
        db.execute(delete(UserSession).where(UserSession.token_hash == token_hash(cookie)))
    audit(db, who, "auth.logout", request=request)
    db.commit()
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/api/auth/me", response_model=MeOut, responses=ERRORS)
def me(who: Principal = Depends(current_principal)) -> MeOut:
    """Who am I (and the session's CSRF token, for the browser)."""
    return MeOut(user=UserOut.model_validate(who.user), csrf_token=who.csrf_token)


@router.post("/api/tokens", response_model=TokenCreated, status_code=201, responses=ERRORS)
def create_token(body: TokenIn, request: Request, who: Principal = Depends(current_principal), db: Session = Depends(get_db)) -> TokenCreated:
    """Create an API token for scripts; the token is shown only in this answer."""
    token = new_token(TOKEN_PREFIX)
    row = ApiToken(user_id=who.user.id, name=body.name, token_hash=token_hash(token))
    db.add(row)
    db.flush()
    audit(db, who, "token.create", object_type="api_token", object_id=row.id, request=request)
    db.commit()
    return TokenCreated(id=row.id, name=row.name, created_at=row.created_at, last_used_at=None, revoked=False, token=token)


@router.get("/api/tokens", response_model=list[TokenOut], responses=ERRORS)
def list_tokens(who: Principal = Depends(current_principal), db: Session = Depends(get_db)) -> list[TokenOut]:
    """The caller's API tokens (never the tokens themselves)."""
    rows = db.scalars(select(ApiToken).where(ApiToken.user_id == who.user.id).order_by(ApiToken.id))
    return [TokenOut.model_validate(r) for r in rows]


@router.delete("/api/tokens/{token_id}", status_code=204, responses={**ERRORS, **NOT_FOUND})
def revoke_token(token_id: IdPath, request: Request, who: Principal = Depends(current_principal), db: Session = Depends(get_db)) -> Response:
    """Revoke one of the caller's API tokens."""
    row = db.get(ApiToken, token_id)
    if row is None or row.user_id != who.user.id:
        raise HTTPException(404, f"no API token {token_id}")
    row.revoked = True
    audit(db, who, "token.revoke", object_type="api_token", object_id=row.id, request=request)
    db.commit()
    return Response(status_code=204)
