"""``/api/auth`` (password login, browser sessions) and ``/api/tokens`` (API tokens for scripts)."""

from __future__ import annotations

import asyncio
import datetime as dt

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
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
    password_problem,
    revoke_credentials,
    token_hash,
)
from ..db import ApiToken, Site, User, UserSession, UserSettings, utcnow
from ..schemas import (
    LoginIn,
    MeOut,
    PasswordChangeIn,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserOut,
    UserSettingsIn,
    UserSettingsOut,
    UserSettingsPatch,
)
from ..throttle import TooManyAttempts
from ._common import ERRORS, NOT_FOUND, IdPath

router = APIRouter(tags=["auth"])
_ = hash_password  # re-exported for the admin CLI


def client_address(request: Request) -> str:
    """The client's address as the throttle sees it (behind a proxy: run uvicorn with ``--proxy-headers``)."""
    return request.client.host if request.client else "unknown"


def _find_user(app, username: str) -> tuple[int, str, bool, int | None] | None:
    with app.state.sessionmaker() as db:
        user = db.scalar(select(User).where(User.username == username))
        db.commit()
        return None if user is None else (user.id, user.password_hash, user.active, user.site_id)


def _login_failed(app, request: Request, username: str, found, lock: float, action: str = "auth.login") -> None:
    """Audit a failed login under the account's site (unknown accounts: no site); never the password."""
    with app.state.sessionmaker() as db:
        site_id = found[3] if found is not None else None
        detail = {"username": username[:150], "known_account": found is not None}
        user_id = found[0] if found is not None else None
        audit(db, None, action, site_id=site_id, user_id=user_id, request=request, outcome="denied", detail=detail)
        if lock > 0:
            lockout = {**detail, "seconds": round(lock, 1)}
            audit(db, None, "auth.lockout", site_id=site_id, user_id=user_id, request=request, outcome="denied", detail=lockout)
        db.commit()


def _start_session(app, request: Request, user_id: int) -> tuple[str, MeOut]:
    settings = app.state.settings
    token = new_token()
    with app.state.sessionmaker() as db:
        user = db.get(User, user_id)
        now = utcnow()
        session = UserSession(
            token_hash=token_hash(token),
            user_id=user.id,
            csrf_token=new_token(),
            created_at=now,
            expires_at=now + dt.timedelta(hours=settings.session_hours),
        )
        db.execute(delete(UserSession).where(UserSession.expires_at < now))
        db.add(session)
        who = Principal(user, "session", session.csrf_token)
        audit(db, who, "auth.login", request=request)
        db.commit()
        return token, MeOut(user=UserOut.model_validate(user), csrf_token=session.csrf_token)


async def _too_many(request: Request, exc: TooManyAttempts) -> HTTPException:
    # Held before answering (no thread, no CPU): a flooding client gets one refusal per tarpit per connection,
    # so refusals cannot become a cheap flood of their own that starves the event loop.
    await asyncio.sleep(min(exc.retry_after, request.app.state.settings.login_tarpit_seconds))
    return HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)})


@router.post(
    "/api/auth/login",
    response_model=MeOut,
    responses={
        401: {"description": "Wrong user name or password"},
        429: {"description": "Throttled or locked out; see Retry-After"},
    },
)
async def login(body: LoginIn, request: Request, response: Response) -> MeOut:
    """Check the password (Argon2) and start a browser session (an HttpOnly cookie).

    The answer's ``csrf_token`` must be sent as ``X-CSRF-Token`` with every
    request that changes something while using the cookie. Attempts are
    throttled per client address and per account; repeated failures lock
    the account (and the client) out for a time that doubles with every
    further failure: 429 with ``Retry-After`` (docs/server.md).
    """
    app = request.app
    guard = app.state.login_guard
    client = client_address(request)
    try:
        guard.check(body.username, client)
        found = await run_in_threadpool(_find_user, app, body.username)
        ok = await guard.verify(found[1] if found is not None else None, body.password)
    except TooManyAttempts as exc:
        raise await _too_many(request, exc) from None
    if not ok or not found[2]:
        lock = guard.failed(body.username, client)
        await run_in_threadpool(_login_failed, app, request, body.username, found, lock)
        raise HTTPException(401, "wrong user name or password")
    guard.succeeded(body.username)
    token, out = await run_in_threadpool(_start_session, app, request, found[0])
    settings = app.state.settings
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )
    return out


@router.post(
    "/api/auth/password",
    status_code=204,
    responses={**ERRORS, 422: {"description": "Weak password"}, 429: {"description": "Throttled or locked out"}},
)
async def change_password(body: PasswordChangeIn, request: Request, who: Principal = Depends(current_principal)) -> Response:
    """Change the caller's own password (the current one is checked, as a login).

    Every browser session and API token of the user ends, this one included:
    log in again with the new password.
    """
    app = request.app
    guard = app.state.login_guard
    client = client_address(request)
    username = who.user.username
    try:
        guard.check(username, client)
        ok = await guard.verify(who.user.password_hash, body.current_password)
    except TooManyAttempts as exc:
        raise await _too_many(request, exc) from None
    if not ok:
        lock = guard.failed(username, client)
        await run_in_threadpool(
            _login_failed, app, request, username, (who.user.id, "", True, who.site_id), lock, "user.password"
        )
        raise HTTPException(401, "the current password is wrong")
    problem = await run_in_threadpool(_password_problem_for, app, body.new_password, username, who.site_id)
    if problem:
        raise HTTPException(422, problem)
    new_hash = await asyncio.wrap_future(guard.pool.submit(hash_password, body.new_password))

    def store() -> None:
        with app.state.sessionmaker() as db:
            user = db.get(User, who.user.id)
            user.password_hash = new_hash
            revoke_credentials(db, user.id)
            audit(db, who, "user.password", object_type="user", object_id=user.id, request=request)
            db.commit()

    await run_in_threadpool(store)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


def _password_problem_for(app, password: str, username: str, site_id: int | None) -> str | None:
    with app.state.sessionmaker() as db:
        site = db.get(Site, site_id) if site_id is not None else None
        db.commit()
        return password_problem(password, [username, site.name if site is not None else None, "dbrain"])


@router.post("/api/auth/logout", status_code=204, responses=ERRORS)
def logout(
    request: Request, response: Response, who: Principal = Depends(current_principal), db: Session = Depends(get_db)
) -> Response:
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
def create_token(
    body: TokenIn, request: Request, who: Principal = Depends(current_principal), db: Session = Depends(get_db)
) -> TokenCreated:
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
def revoke_token(
    token_id: IdPath, request: Request, who: Principal = Depends(current_principal), db: Session = Depends(get_db)
) -> Response:
    """Revoke one of the caller's API tokens."""
    row = db.get(ApiToken, token_id)
    if row is None or row.user_id != who.user.id:
        raise HTTPException(404, f"no API token {token_id}")
    row.revoked = True
    audit(db, who, "token.revoke", object_type="api_token", object_id=row.id, request=request)
    db.commit()
    return Response(status_code=204)


@router.get("/api/auth/me/settings", response_model=UserSettingsOut, responses=ERRORS)
def get_settings(who: Principal = Depends(current_principal), db: Session = Depends(get_db)) -> UserSettingsOut:
    """The caller's viewer settings (montages, screen calibrations, channel gains); empty until first saved."""
    row = db.get(UserSettings, who.user.id)
    if row is None:
        return UserSettingsOut()
    return UserSettingsOut(**UserSettingsIn.model_validate(row.data or {}).model_dump(), updated_at=row.updated_at)


@router.put("/api/auth/me/settings", response_model=UserSettingsOut, responses=ERRORS)
def put_settings(
    body: UserSettingsIn, request: Request, who: Principal = Depends(current_principal), db: Session = Depends(get_db)
) -> UserSettingsOut:
    """Replace the caller's viewer settings (they follow the user to any workstation)."""
    row = db.get(UserSettings, who.user.id)
    if row is None:
        row = UserSettings(user_id=who.user.id)
        db.add(row)
    row.data, row.updated_at = body.model_dump(), utcnow()
    audit(
        db, who, "settings.update", object_type="user", object_id=who.user.id, request=request,
        detail={"montages": len(body.montages), "calibrations": len(body.calibrations), "channel_gains": len(body.channel_gains)},
    )  # fmt: skip
    db.commit()
    return UserSettingsOut(**body.model_dump(), updated_at=row.updated_at)


#: Attempts of a settings change that another change of the same user's settings overtook.
_PATCH_ATTEMPTS = 20


@router.patch("/api/auth/me/settings", response_model=UserSettingsOut, responses=ERRORS)
def patch_settings(
    body: UserSettingsPatch, request: Request, who: Principal = Depends(current_principal), db: Session = Depends(get_db)
) -> UserSettingsOut:
    """Change some of the caller's settings (JSON merge patch): only the fields and keys sent change.

    Pages send only what they change, so two pages (the viewer, the ward) saving at the same time keep each
    other's changes; a PUT replaces the whole set and the later of two would erase the other's.
    """
    uid = who.user.id
    for _ in range(_PATCH_ATTEMPTS):
        row = db.get(UserSettings, uid)
        merged = body.apply({} if row is None else (row.data or {}))
        try:
            new = UserSettingsIn.model_validate(merged)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise HTTPException(422, f"the settings after this change are not valid: {where}: {err['msg']}") from None
        now = utcnow()
        try:
            if row is None:
                db.add(UserSettings(user_id=uid, data=new.model_dump(), updated_at=now))
                db.flush()
            else:
                # Compare-and-set on the version read: a change committed since (another tab's) makes this match
                # nothing, and the patch is applied again on top of it rather than over it.
                if row.updated_at is not None and now <= row.updated_at:
                    now = row.updated_at + dt.timedelta(microseconds=1)
                done = db.execute(
                    update(UserSettings)
                    .where(UserSettings.user_id == uid, UserSettings.updated_at == row.updated_at)
                    .values(data=new.model_dump(), updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if done.rowcount != 1:
                    db.rollback()
                    continue
        except IntegrityError:  # another change created the row first
            db.rollback()
            continue
        audit(
            db, who, "settings.update", object_type="user", object_id=uid, request=request,
            detail={"changed": sorted(body.model_fields_set), "montages": len(new.montages),
                    "calibrations": len(new.calibrations), "channel_gains": len(new.channel_gains)},
        )  # fmt: skip
        db.commit()
        return UserSettingsOut(**new.model_dump(), updated_at=now)
    raise HTTPException(409, "your settings kept changing while this change was applied; send it again")
