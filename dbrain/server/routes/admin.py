"""``/api/sites``, ``/api/users`` and ``/api/audit`` (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..auth import Principal, audit, get_db, hash_password, require
from ..db import ApiToken, AuditEvent, Site, User, UserSession
from ..provenance import record_row
from ..schemas import AuditOut, SiteIn, SiteOut, UserIn, UserOut, UserPatch
from ._common import ERRORS, NOT_FOUND, IdPath

router = APIRouter(tags=["admin"])
admin_only = require("admin")


@router.get("/api/sites", response_model=list[SiteOut], responses=ERRORS)
def list_sites(db: Session = Depends(get_db), who: Principal = Depends(admin_only)) -> list[SiteOut]:
    """All sites."""
    return [SiteOut.model_validate(s) for s in db.scalars(select(Site).order_by(Site.id))]


@router.post("/api/sites", response_model=SiteOut, status_code=201, responses={**ERRORS, 409: {"description": "Exists"}})
def create_site(body: SiteIn, request: Request, db: Session = Depends(get_db), who: Principal = Depends(admin_only)) -> SiteOut:
    """Create a site (a hospital or department whose data is kept apart)."""
    if db.scalar(select(Site).where(Site.name == body.name)) is not None:
        raise HTTPException(409, f"site {body.name!r} exists")
    site = Site(name=body.name)
    db.add(site)
    db.flush()
    audit(db, who, "site.create", object_type="site", object_id=site.id, request=request)
    db.commit()
    return SiteOut.model_validate(site)


@router.get("/api/users", response_model=list[UserOut], responses=ERRORS)
def list_users(db: Session = Depends(get_db), who: Principal = Depends(admin_only)) -> list[UserOut]:
    """All users."""
    return [UserOut.model_validate(u) for u in db.scalars(select(User).order_by(User.id))]


@router.post(
    "/api/users", response_model=UserOut, status_code=201, responses={**ERRORS, 409: {"description": "Exists"}, 422: {"description": "Bad input"}}
)
def create_user(body: UserIn, request: Request, db: Session = Depends(get_db), who: Principal = Depends(admin_only)) -> UserOut:
    """Create a user with a role at a site (passwords of at least 10 characters, stored as Argon2id)."""
    if db.get(Site, body.site_id) is None:
        raise HTTPException(422, f"no site {body.site_id}")
    if db.scalar(select(User).where(User.username == body.username)) is not None:
        raise HTTPException(409, f"user {body.username!r} exists")
    user = User(username=body.username, password_hash=hash_password(body.password), role=body.role, site_id=body.site_id)
    db.add(user)
    db.flush()
    audit(db, who, "user.create", object_type="user", object_id=user.id, request=request, detail={"role": body.role, "site_id": body.site_id})
    record_row(db, "user.create", user, actor=f"user:{who.user.id}")
    db.commit()
    return UserOut.model_validate(user)


@router.patch("/api/users/{user_id}", response_model=UserOut, responses={**ERRORS, **NOT_FOUND})
def update_user(user_id: IdPath, body: UserPatch, request: Request, db: Session = Depends(get_db), who: Principal = Depends(admin_only)) -> UserOut:
    """Deactivate or reactivate a user, change its role or set a new password.

    Deactivating, a role change or a new password ends the user's browser
    sessions; deactivating also revokes its API tokens.
    """
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, f"no user {user_id}")
    changes = body.model_dump(exclude_none=True)
    if user.id == who.user.id and (changes.get("active") is False or changes.get("role", "admin") != "admin"):
        raise HTTPException(422, "admins cannot deactivate or demote themselves (another admin must)")
    if "password" in changes:
        user.password_hash = hash_password(changes["password"])
    if "role" in changes:
        user.role = changes["role"]
    if "active" in changes:
        user.active = changes["active"]
        if not user.active:
            db.execute(update(ApiToken).where(ApiToken.user_id == user.id).values(revoked=True))
    if changes:
        db.execute(delete(UserSession).where(UserSession.user_id == user.id))
    audit(db, who, "user.update", object_type="user", object_id=user.id, request=request, detail={"fields": sorted(changes)})
    record_row(db, "user.update", user, actor=f"user:{who.user.id}")
    db.commit()
    return UserOut.model_validate(user)


@router.get("/api/audit", response_model=list[AuditOut], responses=ERRORS)
def list_audit(
    request: Request,
    patient_id: int | None = Query(None, ge=1, le=2_147_483_647, description="Only events touching this patient."),
    action: str | None = Query(None, max_length=60),
    limit: int = Query(100, ge=1, le=1000),
    db: Session = Depends(get_db),
    who: Principal = Depends(admin_only),
) -> list[AuditOut]:
    """The audit log of the admin's own site, newest first."""
    stmt = select(AuditEvent).where(AuditEvent.site_id == who.site_id)
    if patient_id is not None:
        stmt = stmt.where(AuditEvent.patient_id == patient_id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    rows = list(db.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)))
    audit(db, who, "audit.read", request=request, detail={"n": len(rows)})
    db.commit()
    return [AuditOut.model_validate(r) for r in rows]
