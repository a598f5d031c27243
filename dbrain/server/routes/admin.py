"""``/api/sites``, ``/api/users`` and ``/api/audit``: administration, scoped by site.

A site's ``admin`` manages the users of its own site only and reads its own
site's audit log. The instance administrator (``instance_admin``, made only by
``dbrain admin create-user``) creates sites and manages the users of every
site, and reads the instance-level audit events (no site: site creation,
failed logins of unknown accounts). An attempt on another site's user, or to
create a user at another site, answers 404 as for data and is audited in
the log of the site it aimed at.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..auth import Principal, audit, get_db, password_problem, require, revoke_credentials
from ..db import AuditEvent, Site, User, UserSession
from ..provenance import record_row
from ..roles import CAN_MANAGE_USERS, INSTANCE_ADMIN
from ..schemas import AuditOut, SiteIn, SiteOut, UserIn, UserOut, UserPatch
from ._common import ERRORS, MAX_ID, NOT_FOUND, IdPath

router = APIRouter(tags=["admin"])
managers = require(*CAN_MANAGE_USERS)
instance_only = require(INSTANCE_ADMIN)


def _is_instance(who: Principal) -> bool:
    return who.role == INSTANCE_ADMIN


def _refuse(
    db: Session, who: Principal, request: Request, action: str, site_id: int | None, message: str, **what
) -> HTTPException:
    """Audit a cross-site attempt in the log of the site it aimed at, and return the 404 to raise."""
    audit(db, who, action, site_id=site_id, request=request, outcome="denied", detail={"reason": "other site", **what})
    db.commit()
    return HTTPException(404, message)


def _new_hash(request: Request, password: str) -> str:
    # Argon2 in the login guard's bounded pool, so admin resets cannot starve other requests either.
    return request.app.state.login_guard.hash(password)


def _check_password(db: Session, password: str, username: str, site_id: int | None) -> None:
    site = db.get(Site, site_id) if site_id is not None else None
    problem = password_problem(password, [username, site.name if site is not None else None, "dbrain"])
    if problem:
        raise HTTPException(422, problem)


@router.get("/api/sites", response_model=list[SiteOut], responses=ERRORS)
def list_sites(db: Session = Depends(get_db), who: Principal = Depends(managers)) -> list[SiteOut]:
    """All sites (instance administrator); a site admin sees its own site only."""
    stmt = select(Site).order_by(Site.id)
    if not _is_instance(who):
        stmt = stmt.where(Site.id == who.site_id)
    return [SiteOut.model_validate(s) for s in db.scalars(stmt)]


@router.post("/api/sites", response_model=SiteOut, status_code=201, responses={**ERRORS, 409: {"description": "Exists"}})
def create_site(
    body: SiteIn, request: Request, db: Session = Depends(get_db), who: Principal = Depends(instance_only)
) -> SiteOut:
    """Create a site (a hospital or department whose data is kept apart); instance administrator only."""
    if db.scalar(select(Site).where(Site.name == body.name)) is not None:
        raise HTTPException(409, f"site {body.name!r} exists")
    site = Site(name=body.name)
    db.add(site)
    db.flush()
    audit(db, who, "site.create", object_type="site", object_id=site.id, request=request)
    db.commit()
    return SiteOut.model_validate(site)


@router.get("/api/users", response_model=list[UserOut], responses=ERRORS)
def list_users(
    site_id: int | None = Query(None, ge=1, le=MAX_ID, description="Only this site's users (instance administrator)."),
    db: Session = Depends(get_db),
    who: Principal = Depends(managers),
) -> list[UserOut]:
    """The users of the admin's own site; every user for the instance administrator."""
    stmt = select(User).order_by(User.id)
    if not _is_instance(who):
        stmt = stmt.where(User.site_id == who.site_id)
    elif site_id is not None:
        stmt = stmt.where(User.site_id == site_id)
    return [UserOut.model_validate(u) for u in db.scalars(stmt)]


@router.post(
    "/api/users",
    response_model=UserOut,
    status_code=201,
    responses={**ERRORS, **NOT_FOUND, 409: {"description": "Exists"}, 422: {"description": "Bad input or weak password"}},
)
def create_user(body: UserIn, request: Request, db: Session = Depends(get_db), who: Principal = Depends(managers)) -> UserOut:
    """Create a user of the admin's own site (any site for the instance administrator).

    The password must pass the strength policy (docs/server.md, Access control and login defence).
    """
    site = db.get(Site, body.site_id)
    if site is None or not (_is_instance(who) or body.site_id == who.site_id):
        raise _refuse(db, who, request, "user.create", site.id if site else None, f"no site {body.site_id}", role=body.role)
    _check_password(db, body.password, body.username, site.id)
    if db.scalar(select(User).where(User.username == body.username)) is not None:
        raise HTTPException(409, f"user {body.username!r} exists")
    db.commit()  # end the read before the slow hash
    user = User(username=body.username, password_hash=_new_hash(request, body.password), role=body.role, site_id=site.id)
    db.add(user)
    db.flush()
    audit(
        db, who, "user.create", object_type="user", object_id=user.id, site_id=site.id, request=request,
        detail={"role": body.role, "site_id": site.id},
    )  # fmt: skip
    record_row(db, "user.create", user, actor=f"user:{who.user.id}")
    db.commit()
    return UserOut.model_validate(user)


def _managed_user(db: Session, who: Principal, request: Request, user_id: int, action: str) -> User:
    """The user if the caller may manage it, else 404 (audited in the user's site when it exists)."""
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, f"no user {user_id}")
    # Instance administrators are managed on the server's shell only, never through a site's API.
    if user.site_id is None or not (_is_instance(who) or user.site_id == who.site_id):
        raise _refuse(db, who, request, action, user.site_id, f"no user {user_id}", user_id=user.id)
    return user


@router.patch(
    "/api/users/{user_id}",
    response_model=UserOut,
    responses={**ERRORS, **NOT_FOUND, 422: {"description": "Bad input or weak password"}},
)
def update_user(
    user_id: IdPath, body: UserPatch, request: Request, db: Session = Depends(get_db), who: Principal = Depends(managers)
) -> UserOut:
    """Deactivate or reactivate a user, change its role or set a new password.

    Any change ends the user's browser sessions; a new password or
    deactivation also revokes all its API tokens.
    """
    user = _managed_user(db, who, request, user_id, "user.update")
    changes = body.model_dump(exclude_none=True)
    if user.id == who.user.id and (changes.get("active") is False or changes.get("role", "admin") != "admin"):
        raise HTTPException(422, "admins cannot deactivate or demote themselves (another admin must)")
    if "password" in changes:
        _check_password(db, changes["password"], user.username, user.site_id)
        db.commit()  # end the read (SQLite: the write lock) before the slow hash
        user.password_hash = _new_hash(request, changes["password"])
        revoke_credentials(db, user.id)
    if "role" in changes:
        user.role = changes["role"]
    if "active" in changes:
        user.active = changes["active"]
        if not user.active:
            revoke_credentials(db, user.id)
    if changes:
        db.execute(delete(UserSession).where(UserSession.user_id == user.id))
    audit(
        db, who, "user.update", object_type="user", object_id=user.id, site_id=user.site_id, request=request,
        detail={"fields": sorted(changes)},
    )  # fmt: skip
    record_row(db, "user.update", user, actor=f"user:{who.user.id}")
    db.commit()
    return UserOut.model_validate(user)


@router.delete("/api/users/{user_id}", status_code=204, responses={**ERRORS, **NOT_FOUND, 422: {"description": "Oneself"}})
def deactivate_user(
    user_id: IdPath, request: Request, db: Session = Depends(get_db), who: Principal = Depends(managers)
) -> Response:
    """Remove a user's access: deactivate it and revoke its sessions and API tokens.

    The row stays (recordings, reports and the audit log name it).
    """
    user = _managed_user(db, who, request, user_id, "user.delete")
    if user.id == who.user.id:
        raise HTTPException(422, "admins cannot remove themselves (another admin must)")
    user.active = False
    revoke_credentials(db, user.id)
    audit(db, who, "user.delete", object_type="user", object_id=user.id, site_id=user.site_id, request=request)
    record_row(db, "user.update", user, actor=f"user:{who.user.id}")
    db.commit()
    return Response(status_code=204)


@router.get("/api/audit", response_model=list[AuditOut], responses=ERRORS)
def list_audit(
    request: Request,
    patient_id: int | None = Query(None, ge=1, le=2_147_483_647, description="Only events touching this patient."),
    action: str | None = Query(None, max_length=60),
    limit: int = Query(100, ge=1, le=1000),
    db: Session = Depends(get_db),
    who: Principal = Depends(managers),
) -> list[AuditOut]:
    """The audit log of the admin's own site, newest first.

    The instance administrator reads the instance-level events (no site).
    """
    stmt = select(AuditEvent).where(AuditEvent.site_id.is_(None) if _is_instance(who) else AuditEvent.site_id == who.site_id)
    if patient_id is not None:
        stmt = stmt.where(AuditEvent.patient_id == patient_id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    rows = list(db.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)))
    audit(db, who, "audit.read", request=request, detail={"n": len(rows)})
    db.commit()
    return [AuditOut.model_validate(r) for r in rows]
